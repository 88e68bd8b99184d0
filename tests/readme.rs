//! The README tells the truth about configuration and the two set-up commands.

const README: &str = include_str!("../README.md");

#[test]
fn every_variable_is_documented_with_its_default() {
    for var in signalbox::config::VARIABLES {
        let row = README
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", var.name)))
            .unwrap_or_else(|| panic!("README's configuration table lacks {}", var.name));
        let default = row.split('|').nth(2).unwrap_or("").trim().trim_matches('`');
        assert_eq!(default, var.default, "README default of {}", var.name);
    }
}

#[test]
fn the_first_two_commands_are_run_and_test() {
    let block = README
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh code block");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .collect();
    assert_eq!(commands, ["make run", "make test"]);
    let makefile = include_str!("../Makefile");
    assert!(makefile.contains("\nrun:") && makefile.contains("\ntest:"));
}
