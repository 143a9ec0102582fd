/* The confinement race's attacker: swaps two directory entries (a real directory of the workdir and a symlink to a
 * directory outside it) as fast as it can, until the stop file exists, then prints how many swaps it made.
 *
 * usage: swapper <entry-a> <entry-b> <stop-file>
 *
 * It uses renameat2(RENAME_EXCHANGE), so at every instant one of the names is the directory and the other the
 * symlink; where the file system lacks it, four plain renames make the same swap (with moments where a name is
 * missing). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <entry-a> <entry-b> <stop-file>\n", argv[0]);
        return 2;
    }
    const char *a = argv[1], *b = argv[2], *stop = argv[3];
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.swap", a);
    int atomic = exchange(a, b) == 0;
    if (!atomic && errno != EINVAL && errno != ENOSYS) {
        perror("renameat2");
        return 1;
    }
    unsigned long swaps = atomic ? 1 : 0;
    for (;;) {
        for (int i = 0; i < 256; i++) {
            if (atomic) {
                if (exchange(a, b) != 0) {
                    perror("renameat2");
                    return 1;
                }
            } else if (rename(a, tmp) || rename(b, a) || rename(a, b) || rename(tmp, a)) {
                perror("rename");
                return 1;
            }
            swaps++;
        }
        if (access(stop, F_OK) == 0) {
            break;
        }
    }
    /* An even number of swaps leaves both names as they were. */
    if (swaps % 2 == 1 && atomic) {
        exchange(a, b);
        swaps++;
    }
    printf("%lu %s\n", swaps, atomic ? "exchange" : "rename");
    return 0;
}
