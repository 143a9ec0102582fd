/* The C API of tandem for Swift's CTandem module; the include path comes from pkg-config (or -Xcc -I). */
#include <tandem.h>
