//! Lua scripts: a dependency's `filters.script` and `transform.script`.
//!
//! Argo runs them in gopher-lua (Lua 5.1) with the event data bound to the global `event` (a
//! table built from the JSON object) and reads the value the chunk returns: `true` passes a
//! filter; a table is a transform's new data. Here they run in Lua 5.1 too, in a sandbox:
//!
//! - only the `base`, `string`, `table` and `math` libraries: no `io`, `os`, `package` or
//!   `debug`, and no `dofile`, `loadfile`, `load`, `loadstring`, `require`, `print`,
//!   `collectgarbage`, `getfenv`/`setfenv`, `string.dump`, `math.random` (nothing reads files,
//!   the clock or a random source, so a script is a pure function of the event);
//! - at most [`MAX_INSTRUCTIONS`] VM instructions and [`MEMORY_LIMIT`] bytes per run (time
//!   spent inside one library call is not counted: Lua 5.1's string hashing samples long
//!   strings, so a script that builds many long strings alike can still be slow, within the
//!   memory cap);
//! - a fresh state per run, so nothing a script stores survives to the next event.
//!
//! Conversions follow Argo's `mapToTable`/`toGoValue`: JSON numbers become Lua numbers,
//! `null` members are absent, `null` array elements are skipped (the array closes up, as in
//! Argo). One deliberate difference: arrays nested in arrays are kept (Argo drops them). On the
//! way back, a table with elements at `1..n` (or a metatable with `__is_array = true`) is an
//! array of those elements, any other table an object with its keys as strings.

use std::cell::Cell;
use std::rc::Rc;

use mlua::chunk::ChunkMode;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, VmState};
use serde_json::{Map, Value};

use crate::json::{MAX_DEPTH, go_number};

/// Most VM instructions one run may execute.
pub(crate) const MAX_INSTRUCTIONS: u32 = 10_000_000;
/// Most memory one Lua state may allocate, in bytes.
pub(crate) const MEMORY_LIMIT: usize = 32 * 1024 * 1024;
/// The hook runs every this many instructions.
const HOOK_EVERY: u32 = 1_000;

/// A script that parsed. The source is kept and loaded into a fresh sandbox on every run.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    source: String,
}

impl Script {
    /// Parses `source` (Lua 5.1 syntax), without running it.
    pub(crate) fn compile(source: &str) -> Result<Script, String> {
        let lua = sandbox().map_err(|e| e.to_string())?;
        lua.load(source)
            .set_mode(ChunkMode::Text)
            .set_name("script")
            .into_function()
            .map_err(|e| one_line(&e))?;
        Ok(Script {
            source: source.to_owned(),
        })
    }

    /// Runs the script with `event` bound to the event data; true when the value it returns
    /// is `true` (a filter).
    pub(crate) fn passes(&self, event: &Map<String, Value>) -> Result<bool, String> {
        self.run(event, |value| {
            Ok(matches!(value, mlua::Value::Boolean(true)))
        })
    }

    /// Runs the script with `event` bound to the event data and returns the table it returns
    /// as JSON (a transform).
    pub(crate) fn transform(&self, event: &Map<String, Value>) -> Result<Value, String> {
        self.run(event, |value| match value {
            mlua::Value::Table(_) => to_json(&value, 0),
            _ => Err("transformation script output type is not of lua table".to_owned()),
        })
    }

    fn run<T>(
        &self,
        event: &Map<String, Value>,
        read: impl FnOnce(mlua::Value) -> Result<T, String>,
    ) -> Result<T, String> {
        let lua = sandbox().map_err(|e| e.to_string())?;
        let table = object_to_table(&lua, event, 0).map_err(|e| one_line(&e))?;
        lua.globals()
            .raw_set("event", table)
            .map_err(|e| one_line(&e))?;
        let returned: mlua::MultiValue = lua
            .load(self.source.as_str())
            .set_mode(ChunkMode::Text)
            .set_name("script")
            .call(())
            .map_err(|e| one_line(&e))?;
        // gopher-lua's `L.Get(-1)` after `DoString`: the last value returned, nil if none.
        let last = returned.into_iter().last().unwrap_or(mlua::Value::Nil);
        read(last)
    }
}

/// A Lua state with only the safe libraries, a memory cap and an instruction budget.
fn sandbox() -> mlua::Result<Lua> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::new(),
    )?;
    lua.set_memory_limit(MEMORY_LIMIT)?;
    let globals = lua.globals();
    for name in [
        "dofile",
        "loadfile",
        "load",
        "loadstring",
        "require",
        "module",
        "print",
        "collectgarbage",
        "gcinfo",
        "getfenv",
        "setfenv",
        "newproxy",
    ] {
        globals.raw_set(name, mlua::Value::Nil)?;
    }
    let string: mlua::Table = globals.raw_get("string")?;
    string.raw_set("dump", mlua::Value::Nil)?;
    let math: mlua::Table = globals.raw_get("math")?;
    math.raw_set("random", mlua::Value::Nil)?;
    math.raw_set("randomseed", mlua::Value::Nil)?;

    let ticks = Rc::new(Cell::new(0u32));
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| {
            let n = ticks.get() + 1;
            ticks.set(n);
            if n > MAX_INSTRUCTIONS / HOOK_EVERY {
                Err(mlua::Error::runtime(format!(
                    "the script ran more than {MAX_INSTRUCTIONS} instructions"
                )))
            } else {
                Ok(VmState::Continue)
            }
        },
    )?;
    Ok(lua)
}

/// mlua's messages carry a traceback on following lines; the first line says what happened.
fn one_line(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::CallbackError { cause, .. } => return one_line(cause),
        mlua::Error::MemoryError(_) => {
            return format!("the script used more than {MEMORY_LIMIT} bytes of memory");
        }
        other => other.to_string(),
    };
    text.lines().next().unwrap_or_default().trim().to_owned()
}

fn object_to_table(lua: &Lua, map: &Map<String, Value>, depth: usize) -> mlua::Result<mlua::Table> {
    let table = lua.create_table()?;
    for (key, value) in map {
        if let Some(v) = to_lua(lua, value, depth + 1)? {
            table.raw_set(key.as_str(), v)?;
        }
    }
    Ok(table)
}

/// A JSON value as Lua; `None` for `null` (absent in Lua).
fn to_lua(lua: &Lua, value: &Value, depth: usize) -> mlua::Result<Option<mlua::Value>> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime(format!(
            "event data nests deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => mlua::Value::String(lua.create_string(s)?),
        Value::Array(items) => {
            let table = lua.create_table()?;
            let mut next = 1;
            for item in items {
                if let Some(v) = to_lua(lua, item, depth + 1)? {
                    table.raw_set(next, v)?;
                    next += 1;
                }
            }
            mlua::Value::Table(table)
        }
        Value::Object(map) => mlua::Value::Table(object_to_table(lua, map, depth)?),
    }))
}

/// A Lua value as JSON, as Argo's `toGoValue` and `json.Marshal` would write it.
fn to_json(value: &mlua::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the script's output nests deeper than {MAX_DEPTH} levels (or contains itself)"
        ));
    }
    match value {
        mlua::Value::Nil => Ok(Value::Null),
        mlua::Value::Boolean(b) => Ok(Value::Bool(*b)),
        mlua::Value::Integer(i) => Ok(Value::from(*i)),
        mlua::Value::Number(n) => go_number(*n),
        mlua::Value::String(s) => Ok(Value::String(s.to_string_lossy())),
        mlua::Value::Table(table) => {
            let forced_array = table
                .metatable()
                .and_then(|mt| mt.raw_get::<bool>("__is_array").ok())
                .unwrap_or(false);
            let len = table.raw_len();
            if forced_array || len > 0 {
                let mut items = Vec::with_capacity(len);
                for i in 1..=len {
                    let item: mlua::Value = table.raw_get(i).map_err(|e| one_line(&e))?;
                    items.push(to_json(&item, depth + 1)?);
                }
                return Ok(Value::Array(items));
            }
            let mut entries = Vec::new();
            for pair in table.pairs::<mlua::Value, mlua::Value>() {
                let (k, v) = pair.map_err(|e| one_line(&e))?;
                entries.push((key_string(&k)?, to_json(&v, depth + 1)?));
            }
            // Go's json.Marshal writes map keys sorted.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Value::Object(entries.into_iter().collect()))
        }
        other => Err(format!(
            "the script's output contains a {}, which has no JSON form",
            other.type_name()
        )),
    }
}

/// A table key as an object key: strings as they are, numbers and booleans as Lua prints them.
fn key_string(key: &mlua::Value) -> Result<String, String> {
    match key {
        mlua::Value::String(s) => Ok(s.to_string_lossy()),
        mlua::Value::Integer(i) => Ok(i.to_string()),
        mlua::Value::Number(n) => Ok(match go_number(*n) {
            Ok(v) => v.to_string(),
            Err(_) => n.to_string(),
        }),
        mlua::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "the script's output has a {} as a table key, which has no JSON form",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn filters_read_the_event() {
        let s =
            Script::compile("if event.body.size > 2 then return true end return false").unwrap();
        assert!(s.passes(&object(json!({"body": {"size": 3}}))).unwrap());
        assert!(!s.passes(&object(json!({"body": {"size": 1}}))).unwrap());
        // Only `true` passes; nothing returned is nil.
        assert!(
            !Script::compile("return 1")
                .unwrap()
                .passes(&Map::new())
                .unwrap()
        );
        assert!(
            !Script::compile("local x = 1")
                .unwrap()
                .passes(&Map::new())
                .unwrap()
        );
    }

    #[test]
    fn transforms_return_tables() {
        let s = Script::compile(
            "event.body.region = string.upper(event.body.region); event.body.n = event.body.n + 1; return event",
        )
        .unwrap();
        let out = s
            .transform(&object(json!({"body": {"region": "eu", "n": 1, "gone": null}, "list": [1, null, [2], "x"]})))
            .unwrap();
        assert_eq!(
            out,
            json!({"body": {"n": 2, "region": "EU"}, "list": [1, [2], "x"]})
        );
        let forced = Script::compile("return setmetatable({}, {__is_array = true})").unwrap();
        assert_eq!(forced.transform(&Map::new()).unwrap(), json!([]));
        assert_eq!(
            Script::compile("return 1")
                .unwrap()
                .transform(&Map::new())
                .unwrap_err(),
            "transformation script output type is not of lua table"
        );
        let cyclic = Script::compile("local t = {} t.t = t return t").unwrap();
        assert!(
            cyclic
                .transform(&Map::new())
                .unwrap_err()
                .contains("deeper")
        );
        let function = Script::compile("return {f = print}").unwrap();
        assert!(
            function.transform(&Map::new()).is_ok(),
            "print is absent: nil"
        );
        let function = Script::compile("return {f = string.len}").unwrap();
        assert!(
            function
                .transform(&Map::new())
                .unwrap_err()
                .contains("function")
        );
    }

    #[test]
    fn the_sandbox_holds() {
        assert!(Script::compile("return (").unwrap_err().contains("script"));
        for denied in [
            "return os.time()",
            "return io.open('/etc/passwd')",
            "return require('os')",
            "return loadstring('return 1')()",
            "return dofile('/etc/passwd')",
            "return debug.getinfo(1)",
            "return math.random()",
            "return string.dump(function() end)",
        ] {
            let s = Script::compile(denied).unwrap();
            let err = s.passes(&Map::new()).unwrap_err();
            assert!(err.contains("nil"), "{denied}: {err}");
        }
        let spin = Script::compile("while true do end").unwrap();
        assert!(
            spin.passes(&Map::new())
                .unwrap_err()
                .contains("instructions")
        );
        let hog =
            Script::compile("local t = {} for i = 1, 1e9 do t[i] = {i, i, i, i} end").unwrap();
        let err = hog.passes(&Map::new()).unwrap_err();
        assert!(
            err.contains("memory") || err.contains("instructions"),
            "{err}"
        );
        let deep =
            Script::compile("local function f(n) return f(n + 1) + 1 end return f(1)").unwrap();
        assert!(deep.passes(&Map::new()).is_err());
        // Globals do not leak from one run to the next.
        let counter = Script::compile("n = (n or 0) + 1 return n == 1").unwrap();
        assert!(counter.passes(&Map::new()).unwrap());
        assert!(counter.passes(&Map::new()).unwrap());
    }
}
