//! Tool argument checking: the JSON object a model sent, read key by key with error texts the model can act on.

use serde_json::{Map, Value};

/// A tool's arguments, checked to be an object without unknown keys. A `null` value counts as absent.
pub(super) struct Args<'a> {
    tool: String,
    map: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Checks `args` is an object whose keys are all in `allowed` (the tool's schema is closed).
    pub fn new(tool: &str, args: &'a Value, allowed: &[&str]) -> Result<Args<'a>, String> {
        let map = args
            .as_object()
            .ok_or_else(|| format!("{tool}: arguments must be a JSON object"))?;
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("{tool}: unknown argument \"{key}\""));
        }
        Ok(Args {
            tool: tool.to_string(),
            map,
        })
    }

    /// The value of `key`, unless absent or `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An error text about `key`.
    pub fn bad(&self, key: &str, what: &str) -> String {
        format!("{}: \"{key}\" must be {what}", self.tool)
    }

    /// A required string.
    pub fn string(&self, key: &str) -> Result<&'a str, String> {
        self.opt_string(key)?
            .ok_or_else(|| format!("{}: missing required argument \"{key}\"", self.tool))
    }

    /// An optional string.
    pub fn opt_string(&self, key: &str) -> Result<Option<&'a str>, String> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| self.bad(key, "a string")))
            .transpose()
    }

    /// An optional integer of at least `min`.
    pub fn opt_int(&self, key: &str, min: u64) -> Result<Option<u64>, String> {
        let what = match min {
            0 => "a non-negative integer",
            1 => "a positive integer",
            _ => "a larger integer",
        };
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| self.bad(key, what))
            })
            .transpose()
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.bad(key, "a boolean")))
            .transpose()
    }
}

/// `n` and `noun`, pluralized with an `s`.
pub(super) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_checked_with_texts_the_model_can_act_on() {
        assert_eq!(
            Args::new("t", &json!([1]), &[]).err().unwrap(),
            "t: arguments must be a JSON object"
        );
        assert_eq!(
            Args::new("t", &json!({"pth": "x"}), &["path"])
                .err()
                .unwrap(),
            "t: unknown argument \"pth\""
        );
        let v = json!({"path": 3, "n": -1, "b": "yes", "z": null, "s": "ok", "k": 0});
        let a = Args::new("t", &v, &["path", "n", "b", "z", "s", "k"]).unwrap();
        assert_eq!(
            a.string("path").unwrap_err(),
            "t: \"path\" must be a string"
        );
        assert_eq!(
            a.string("z").unwrap_err(),
            "t: missing required argument \"z\""
        );
        assert_eq!(a.string("s").unwrap(), "ok");
        assert_eq!(
            a.opt_int("n", 0).unwrap_err(),
            "t: \"n\" must be a non-negative integer"
        );
        assert_eq!(
            a.opt_int("k", 1).unwrap_err(),
            "t: \"k\" must be a positive integer"
        );
        assert_eq!(a.opt_int("k", 0).unwrap(), Some(0));
        assert_eq!(a.opt_int("z", 1).unwrap(), None);
        assert_eq!(a.opt_bool("b").unwrap_err(), "t: \"b\" must be a boolean");
        assert_eq!(count(1, "line"), "1 line");
        assert_eq!(count(0, "line"), "0 lines");
    }
}
