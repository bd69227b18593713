//! Why a rule is left to the interpreter, said in the script's terms: the call, construct or
//! value the compiled form lacks, as the operator wrote it, never Rhai's internal names.

/// Why a rule is left to the interpreter; shown in debug logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

pub type Lowered<T> = Result<T, Unsupported>;

pub fn unsupported<T>(what: impl Into<String>) -> Lowered<T> {
    Err(Unsupported(what.into()))
}

/// A call the compiled form has no native for, as the script wrote it.
pub fn calling(what: &str, name: &str, args: usize) -> String {
    let written = if name == "contains" && what == "function" {
        " (what `x in y` calls)"
    } else {
        ""
    };
    format!("{what} `{name}` with {args} argument(s){written}")
}

/// What a Rhai syntax node is, in the script's terms, from its debug form (whose first word
/// names its kind); the node itself can be long.
pub fn construct(debug: &str) -> String {
    let kind: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    match kind.as_str() {
        "TryCatch" => "`try … catch`".into(),
        "Import" => "`import`".into(),
        "Export" => "`export`".into(),
        "Share" => "a closure's captured variable".into(),
        "Fn" | "FnPointer" => "a function pointer (`Fn(…)`)".into(),
        "Custom" => "custom syntax".into(),
        "Coalesce" => "`??`".into(),
        "ThisPtr" | "this" => "`this`".into(),
        "CharConstant" => "a character literal".into(),
        "" => "a construct the compiled form lacks".into(),
        other => format!("the construct `{other}`"),
    }
}
