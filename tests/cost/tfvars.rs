//! The cost model's default stacks are what `iac/stacks/*/terraform.tfvars.example` deploy: this test
//! PARSES the example tfvars and the stacks' `variables.tf` (a small reader for the literal subset of
//! HCL those files use: `key = value` with strings, numbers, booleans, null, lists and objects; variable
//! blocks' `default`; `optional(type, default)` attributes of object types) and compares every value
//! the model prices. A changed tfvars value then only needs the model's default updated.

use std::collections::BTreeMap;
use std::path::Path;

use apuntador::cost::{Architecture, Egress, FargateStack, LambdaStack};

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    List(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            other => panic!("expected a string, found {other:?}"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            Value::Num(n) => *n,
            other => panic!("expected a number, found {other:?}"),
        }
    }
    fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            other => panic!("expected a boolean, found {other:?}"),
        }
    }
    fn len(&self) -> usize {
        match self {
            Value::List(items) => items.len(),
            Value::Object(map) => map.len(),
            Value::Null => 0,
            other => panic!("expected a collection, found {other:?}"),
        }
    }
}

/// A reader over the literal subset of HCL.
struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// Skips spaces, newlines and `#` / `//` comments.
    fn skip(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || c == b',' {
                self.at += 1;
            } else if c == b'#' || (c == b'/' && self.text.get(self.at + 1) == Some(&b'/')) {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.at += 1;
                }
            } else {
                break;
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.')
        {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.at]).into_owned()
    }

    fn string(&mut self) -> String {
        assert_eq!(self.peek(), Some(b'"'));
        self.at += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.at += 1;
            match c {
                b'"' => return String::from_utf8(out).expect("UTF-8"),
                b'\\' => {
                    out.push(self.peek().expect("escape"));
                    self.at += 1;
                }
                _ => out.push(c),
            }
        }
        panic!("unterminated string");
    }

    fn key(&mut self) -> String {
        self.skip();
        if self.peek() == Some(b'"') {
            self.string()
        } else {
            self.word()
        }
    }

    fn expect(&mut self, c: u8) {
        self.skip();
        assert_eq!(
            self.peek().map(char::from),
            Some(char::from(c)),
            "at byte {}",
            self.at
        );
        self.at += 1;
    }

    fn value(&mut self) -> Value {
        self.skip();
        match self.peek().expect("a value") {
            b'"' => Value::Str(self.string()),
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                        return Value::List(items);
                    }
                    items.push(self.value());
                }
            }
            b'{' => {
                self.at += 1;
                let mut map = BTreeMap::new();
                loop {
                    self.skip();
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                        return Value::Object(map);
                    }
                    let key = self.key();
                    self.skip();
                    if self.peek() == Some(b'=') || self.peek() == Some(b':') {
                        self.at += 1;
                    }
                    map.insert(key, self.value());
                }
            }
            _ => {
                let word = self.word();
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    number => Value::Num(
                        number
                            .parse()
                            .unwrap_or_else(|_| panic!("not a literal: `{number}`")),
                    ),
                }
            }
        }
    }

    /// Every top-level `key = value` of a tfvars file.
    fn assignments(mut self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        loop {
            self.skip();
            if self.peek().is_none() {
                return out;
            }
            let key = self.key();
            self.expect(b'=');
            out.insert(key, self.value());
        }
    }
}

/// The text of `variable "name" { ... }` in a variables.tf, braces matched outside strings.
fn variable_block<'a>(variables: &'a str, name: &str) -> Option<&'a str> {
    let start = variables.find(&format!("variable \"{name}\""))?;
    let open = start + variables[start..].find('{')?;
    let bytes = variables.as_bytes();
    let (mut depth, mut in_string, mut at) = (0usize, false, open);
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if in_string => at += 1,
            b'"' => in_string = !in_string,
            b'{' if !in_string => depth += 1,
            b'}' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(&variables[open + 1..at]);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The `default` of a variable (a top-level line `default = <literal>` in its block).
fn variable_default(variables: &str, name: &str) -> Option<Value> {
    let block = variable_block(variables, name)?;
    let at = block
        .lines()
        .scan(0usize, |offset, line| {
            let here = *offset;
            *offset += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, line)| {
            let trimmed = line.trim_start();
            trimmed.starts_with("default")
                && trimmed["default".len()..].trim_start().starts_with('=')
        })
        .map(|(offset, line)| offset + line.find('=').expect("=") + 1)?;
    Some(Reader::new(&block[at..]).value())
}

/// The default of `attribute = optional(type, default)` in a variable's object type.
fn optional_default(variables: &str, name: &str, attribute: &str) -> Option<Value> {
    let block = variable_block(variables, name)?;
    let line = block
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{attribute} ")))?;
    let inner = line.split_once("optional(")?.1;
    let default = inner.split_once(',')?.1.trim().trim_end_matches(')').trim();
    Some(Reader::new(default).value())
}

struct Stack {
    tfvars: BTreeMap<String, Value>,
    variables: String,
}

impl Stack {
    fn read(name: &str) -> Stack {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("iac/stacks")
            .join(name);
        let tfvars = std::fs::read_to_string(dir.join("terraform.tfvars.example"))
            .expect("the example tfvars");
        let variables = std::fs::read_to_string(dir.join("variables.tf")).expect("variables.tf");
        Stack {
            tfvars: Reader::new(&tfvars).assignments(),
            variables,
        }
    }

    fn has_variable(&self, name: &str) -> bool {
        variable_block(&self.variables, name).is_some()
    }

    /// The effective value of a variable: the tfvars value, or the variable's default.
    fn value(&self, name: &str) -> Value {
        self.tfvars
            .get(name)
            .cloned()
            .or_else(|| variable_default(&self.variables, name))
            .unwrap_or_else(|| panic!("`{name}` is neither in the tfvars nor defaulted"))
    }

    /// The effective attribute of an object variable: tfvars, the variable's default, the
    /// attribute's `optional()` default.
    fn attribute(&self, name: &str, attribute: &str) -> Value {
        let from = |value: Option<Value>| match value {
            Some(Value::Object(map)) => map.get(attribute).cloned(),
            _ => None,
        };
        from(self.tfvars.get(name).cloned())
            .or_else(|| from(variable_default(&self.variables, name)))
            .or_else(|| optional_default(&self.variables, name, attribute))
            .unwrap_or_else(|| panic!("no value for {name}.{attribute}"))
    }

    /// The first of `names` that the stack declares, with its effective value.
    fn first_declared(&self, names: &[&str]) -> Option<(String, Value)> {
        names
            .iter()
            .find(|name| self.has_variable(name))
            .map(|name| ((*name).to_owned(), self.value(name)))
    }

    fn app_secrets(&self) -> u32 {
        let managed = self.value("managed_app_secrets").len();
        let existing = self
            .tfvars
            .get("existing_app_secret_arns")
            .map(Value::len)
            .unwrap_or(0);
        (managed + existing) as u32
    }
}

#[test]
fn the_reader_reads_the_literal_subset_and_variable_defaults() {
    let values = Reader::new(
        "a = \"x\" # comment\nb = 2\nc = [\"p\", \"q\"]\nd = { e = true, \"f\" = null }\n// c\ng = -1.5\n",
    )
    .assignments();
    assert_eq!(values["a"], Value::Str("x".into()));
    assert_eq!(values["b"], Value::Num(2.0));
    assert_eq!(values["c"].len(), 2);
    assert_eq!(values["d"], {
        let mut map = BTreeMap::new();
        map.insert("e".to_owned(), Value::Bool(true));
        map.insert("f".to_owned(), Value::Null);
        Value::Object(map)
    });
    assert_eq!(values["g"], Value::Num(-1.5));
    let variables = "variable \"x\" {\n  description = \"{ braces } in a string\"\n  type = object({\n    n = optional(number, 7)\n  })\n  default = {}\n}\nvariable \"y\" {\n  default = 3\n}\n";
    assert_eq!(variable_default(variables, "y"), Some(Value::Num(3.0)));
    assert_eq!(
        variable_default(variables, "x"),
        Some(Value::Object(BTreeMap::new()))
    );
    assert_eq!(optional_default(variables, "x", "n"), Some(Value::Num(7.0)));
    assert_eq!(variable_default(variables, "z"), None);
}

#[test]
fn the_lambda_model_defaults_are_the_example_tfvars() {
    let stack = Stack::read("lambda");
    let model = LambdaStack::default();
    assert_eq!(
        Architecture::parse(stack.value("architecture").str()).unwrap(),
        model.architecture
    );
    assert_eq!(stack.value("memory_mb").num() as u32, model.memory_mb);
    assert_eq!(stack.app_secrets(), model.app_secrets);
    // Provisioned concurrency and the tracing switch, when the stack has them as variables.
    let provisioned = stack
        .first_declared(&[
            "provisioned_concurrency",
            "provisioned_concurrent_executions",
        ])
        .map(|(_, value)| match value {
            Value::Null => 0,
            value => value.num() as u32,
        })
        .unwrap_or(0);
    assert_eq!(provisioned, model.provisioned_concurrency);
    let tracing = match stack.first_declared(&[
        "tracing_enabled",
        "xray_tracing",
        "xray_tracing_enabled",
        "tracing",
        "tracing_mode",
    ]) {
        Some((_, Value::Bool(on))) => on,
        Some((_, Value::Str(mode))) => mode == "Active",
        Some((name, other)) => panic!("unexpected {name}: {other:?}"),
        // No variable: the function module's tracing_config decides.
        None => {
            let module = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("iac/modules/lambda_function/main.tf"),
            )
            .expect("the function module");
            module.contains("mode = \"Active\"")
        }
    };
    assert_eq!(tracing, model.tracing);
}

#[test]
fn the_fargate_model_defaults_are_the_example_tfvars() {
    let stack = Stack::read("fargate");
    let model = FargateStack::default();
    assert_eq!(
        Architecture::parse(stack.value("cpu_architecture").str()).unwrap(),
        model.architecture
    );
    assert_eq!(stack.value("cpu").num() as u32, model.cpu_units);
    assert_eq!(stack.value("memory").num() as u32, model.memory_mib);
    assert_eq!(
        stack.attribute("autoscaling", "min_capacity").num() as u32,
        model.min_tasks
    );
    assert_eq!(
        stack.value("availability_zones").len() as u32,
        model.availability_zones
    );
    assert_eq!(
        Egress::parse(stack.value("egress_mode").str()).unwrap(),
        model.egress
    );
    assert_eq!(
        stack.attribute("spot", "base").num() as u32,
        model.spot_base
    );
    assert_eq!(
        stack.attribute("spot", "fargate_weight").num() as u32,
        model.spot_fargate_weight
    );
    assert_eq!(
        stack.attribute("spot", "spot_weight").num() as u32,
        model.spot_weight
    );
    assert_eq!(
        stack.value("adot_collector_enabled").bool(),
        model.telemetry
    );
    assert_eq!(stack.app_secrets(), model.app_secrets);
    let endpoints = stack
        .first_declared(&[
            "interface_endpoints_enabled",
            "interface_endpoints",
            "vpc_interface_endpoints",
            "enable_interface_endpoints",
        ])
        .map(|(_, value)| value.bool())
        // No variable: the network module creates them unconditionally.
        .unwrap_or(true);
    assert_eq!(endpoints, model.interface_endpoints);
}
