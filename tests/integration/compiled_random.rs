//! Random expressions over every operator the compiled form knows, compiled and interpreted:
//! every value and every error the same.

use crate::compiled::{agree, compiled_rules, joined};
use crate::support::{chat, click, order, pack_of, Lcg, HOUR, T0};

/// A small deterministic generator of expressions over integers (large ones included),
/// floats, strings, booleans and `()`, combined with every operator the compiled form knows.
struct Exprs(Lcg);

impl Exprs {
    fn next(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    fn leaf(&mut self) -> String {
        let leaves = [
            "n",
            "f",
            "s",
            "b",
            "()",
            "0",
            "1",
            "-7",
            "3",
            "9223372036854775807",
            "0.0",
            "-0.0",
            "2.5",
            "0.1",
            "1e-9",
            "1000000.0",
            "\"chat\"",
            "\"\"",
            "\"b\"",
            "true",
            "false",
        ];
        leaves[self.next(leaves.len() as u64) as usize].to_string()
    }

    fn expr(&mut self, depth: u32) -> String {
        if depth == 0 || self.next(4) == 0 {
            return self.leaf();
        }
        let ops = [
            "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
        ];
        match self.next(6) {
            0 => format!("!({})", self.expr(depth - 1)),
            1 => format!("-({})", self.expr(depth - 1)),
            2 => format!(
                "if {} {{ {} }} else {{ {} }}",
                self.expr(depth - 1),
                self.expr(depth - 1),
                self.expr(depth - 1)
            ),
            _ => {
                let op = ops[self.next(ops.len() as u64) as usize];
                format!("({} {op} {})", self.expr(depth - 1), self.expr(depth - 1))
            }
        }
    }
}

/// Random expressions, one rule per handful, both ways: every value, every error, the same.
#[test]
fn random_expressions_agree_with_the_interpreter() {
    let mut gen = Exprs(Lcg(42));
    let mut rules: Vec<(String, String)> = Vec::new();
    while rules.len() < 60 {
        let r = rules.len();
        let rule = {
            let mut body = String::new();
            for _ in 0..2 {
                body.push_str(&format!("    parts.push(`${{{}}}`);\n", gen.expr(2)));
            }
            let text = format!(
                "fn on_event(event, user) {{\n    let n = user.events;\n    let f = n * 0.5;\n    \
                 let s = event.type;\n    let b = n % 2 == 0;\n    let parts = [];\n{body}    \
                 let text = \"\";\n    for p in parts {{ text += p + \";\"; }}\n    \
                 untag(\"intent/price\");\n    tag(\"intent/price\", text);\n}}\n"
            );
            (format!("r{r:02}"), text)
        };
        // Rhai's parser rejects some constant expressions (`true + 1`): keep those it takes.
        if pack_of(&[(&rule.0, &rule.1)]).is_ok() {
            rules.push(rule);
        }
    }
    let named: Vec<(&str, &str)> = rules
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let pack = pack_of(&named).unwrap();
    assert_eq!(
        compiled_rules(&pack).len(),
        rules.len(),
        "every rule is compiled"
    );
    let lines: Vec<String> = (0..6)
        .flat_map(|i| {
            let t = T0 + i * HOUR;
            [
                chat("u1", t, "hi"),
                click("u1", t + 1),
                order("u2", t + 2, &format!("o{i}"), 10.0, false),
            ]
        })
        .collect();
    let (out, fallbacks) = agree(&pack, &joined(&lines));
    let changes = out.iter().filter(|o| o.contains("\"op\"")).count();
    let errors = out.len() - changes;
    // The generator is meant to mix both: values the compiled form computes, and errors (or
    // loosely typed cases) it hands to the interpreter.
    assert!(
        changes > 200 && errors > 100,
        "{changes} changes, {errors} errors"
    );
    assert!(fallbacks > 0);
}
