//! The step vocabulary as people read it: what each step says, what it does, and an example.
//!
//! `lockdrill steps` prints it, the README's step table is generated from it (a test keeps
//! the two equal), and a step that matches nothing is answered with the closest entries here.
//! Each entry's example must match a real step definition; a test runs every example.

/// One step of the vocabulary.
#[derive(Clone, Copy, Debug)]
pub struct StepDoc {
    /// The keywords it may be used with.
    pub keywords: &'static str,
    /// Its wording, with the parts a scenario fills in upper case.
    pub wording: &'static str,
    pub meaning: &'static str,
    /// A use of it, as written after the keyword.
    pub example: &'static str,
}

/// Every step, in the order a scenario usually uses them.
pub const STEPS: &[StepDoc] = &[
    StepDoc {
        keywords: "Given",
        wording: r#"the world "FILE""#,
        meaning: "Starts an emulator of the scenario's own, builds the world file in it with \
                  real API calls, and puts the enforcing gateway in front. First step of a \
                  scenario.",
        example: r#"the world "scenarios/admin-detached.yaml""#,
    },
    StepDoc {
        keywords: "Given",
        wording: r#"the drill variable NAME is "VALUE""#,
        meaning: "Binds a runbook placeholder `{{NAME}}`.",
        example: r#"the drill variable ACCOUNT_ID is "222222222222""#,
    },
    StepDoc {
        keywords: "Given",
        wording: "the drill variable NAME is the organization root id",
        meaning: "Binds a placeholder to the organization root's id (`r-...`).",
        example: "the drill variable TARGET_ID is the organization root id",
    },
    StepDoc {
        keywords: "Given, When",
        wording: r#"ACTOR detaches the policy "POLICY" from every user, group and role"#,
        meaning: "Lockout: lists the policy's attachments and detaches each, the actor's own \
                  last, as real calls signed by the actor. POLICY is an AWS-managed policy \
                  name, a policy of the actor's account, or an ARN.",
        example: r#"alice detaches the policy "AdministratorAccess" from every user, group and role"#,
    },
    StepDoc {
        keywords: "Given, When",
        wording: r#"ACTOR deletes the user "NAME" (or: deletes the role "NAME")"#,
        meaning: "Lockout: removes what IAM requires first (policies, group memberships, \
                  access keys, password, MFA devices), then deletes it, as the actor.",
        example: r#"alice deletes the user "admin""#,
    },
    StepDoc {
        keywords: "Given, When",
        wording: r#"ACTOR attaches an SCP named "NAME" to "TARGET" [from "FILE"]"#,
        meaning: "Lockout: creates the SCP (from FILE, or from the step's docstring) and \
                  attaches it to `root`, an OU or an account, by name or id, as the actor \
                  (a principal of the management account). The document is checked first, \
                  and a mistake is reported at its line and column.",
        example: r#"root:111111111111 attaches an SCP named "DenyIam" to "Workloads" from "scenarios/policies/deny-iam.json""#,
    },
    StepDoc {
        keywords: "Given, When",
        wording: r#"the root user of account "ACCOUNT" loses its MFA device"#,
        meaning: "The root user's MFA device is gone: root can no longer sign in.",
        example: r#"the root user of account "123456789012" loses its MFA device"#,
    },
    StepDoc {
        keywords: "Given, When",
        wording: r#"the root user of account "ACCOUNT" loses access to its email"#,
        meaning: "The root email is unreachable: no password reset, no account recovery.",
        example: r#"the root user of account "123456789012" loses access to its email"#,
    },
    StepDoc {
        keywords: "When",
        wording: r#"AWS account recovery restores root sign-in to account "ACCOUNT", taking N minutes|hours|days"#,
        meaning: "AWS verifies the root email and lets root sign in without its lost MFA \
                  device. Fails if the email is unreachable. The declared time counts in the \
                  time to recover.",
        example: r#"AWS account recovery restores root sign-in to account "123456789012", taking 24 hours"#,
    },
    StepDoc {
        keywords: "When",
        wording: r#"the root user of account "ACCOUNT" enables MFA on a new virtual device"#,
        meaning: "Creates the root user's new virtual MFA device through the gateway, as root.",
        example: r#"the root user of account "123456789012" enables MFA on a new virtual device"#,
    },
    StepDoc {
        keywords: "When",
        wording: r#"ACTOR runs the runbook "FILE""#,
        meaning: "Runs the runbook's shell blocks with the real `aws` CLI as the actor, \
                  against the gateway. Fails with the command, exit code and output of the \
                  first block that fails.",
        example: r#"root:123456789012 runs the runbook "scenarios/runbooks/admin-detached.md""#,
    },
    StepDoc {
        keywords: "When",
        wording: r#"ACTOR assumes the role "ROLE" as "SESSION" [with MFA]"#,
        meaning: "Calls AssumeRole as the actor (with an MFA code from the actor's device); \
                  the session then acts in later steps by its name or ARN. ROLE is a name in \
                  the actor's account, or an ARN.",
        example: r#"alice assumes the role "BreakGlassAdminRole" as "recovery" with MFA"#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"ACTOR cannot perform ACTION on "RESOURCE" [because of TYPE]"#,
        meaning: "Proves a lockout: AWS would deny it, and with `because of`, the deciding \
                  policy type is TYPE (scp, rcp, identity, boundary, session, resource). The \
                  first passing one marks the lockout.",
        example: r#"alice cannot perform iam:AttachUserPolicy on "bob" because of an scp"#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"ACTOR can perform ACTION on "RESOURCE""#,
        meaning: "Proves access: AWS would allow it. After a lockout, marks the recovery.",
        example: r#"alice can perform iam:AttachUserPolicy on "bob""#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"the root user of account "ACCOUNT" can|cannot sign in"#,
        meaning: "Whether root's email is reachable and its MFA device (if enabled) at hand.",
        example: r#"the root user of account "123456789012" cannot sign in"#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"some principal other than root can administer IAM in account "ACCOUNT""#,
        meaning: "Checklist: a user, or a role that someone who can act may assume (with MFA, \
                  following role chains), may attach any policy to any user and role.",
        example: r#"some principal other than root can administer IAM in account "222222222222""#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"nobody can administer IAM in account "ACCOUNT""#,
        meaning: "Nobody at all, root included, may administer IAM there: the lockout has no \
                  way back. Marks the lockout.",
        example: r#"nobody can administer IAM in account "123456789012""#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"the role "ROLE" in account "ACCOUNT" is exempt from every SCP"#,
        meaning: "Checklist: no SCP on the account's path denies the role's sessions the IAM \
                  administrator actions.",
        example: r#"the role "BreakGlassAdminRole" in account "222222222222" is exempt from every SCP"#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"the root user of account "ACCOUNT" has MFA enabled"#,
        meaning: "Checklist: root MFA is enabled, on a device at hand.",
        example: r#"the root user of account "222222222222" has MFA enabled"#,
    },
    StepDoc {
        keywords: "Then",
        wording: r#"a CloudTrail trail exists in account "ACCOUNT""#,
        meaning: "Checklist: the emulator holds a trail for the account (worlds declare them \
                  under `cloudtrail_trails`).",
        example: r#"a CloudTrail trail exists in account "222222222222""#,
    },
];

/// The vocabulary as plain text, for `lockdrill steps`.
pub fn text() -> String {
    let mut out = String::new();
    for step in STEPS {
        out.push_str(&format!("{} {}\n", step.keywords, step.wording));
        out.push_str(&wrap(step.meaning, "    ", 92));
        out.push_str(&format!("    e.g. {}\n\n", step.example));
    }
    out.push_str(
        "ACTOR: a user name, `root:ACCOUNT`, a principal ARN, or a session assumed earlier.\n\
         Tag a scenario @expect-unrecoverable when it must prove that nothing can recover.\n",
    );
    out
}

/// `text` in lines of at most `width` characters, each starting with `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The vocabulary as the README's Markdown table.
pub fn markdown() -> String {
    let mut out = String::from("| Keywords | Step | What it does |\n|---|---|---|\n");
    for step in STEPS {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            step.keywords,
            step.wording.replace('|', "\\|"),
            step.meaning.replace('|', "\\|")
        ));
    }
    out
}

/// Up to three steps worded most like `text`, closest first.
pub fn closest(text: &str) -> Vec<&'static StepDoc> {
    let wanted = shape(text);
    // Close means that at most half the words of the longer of the two differ.
    let mut scored: Vec<(usize, &StepDoc)> = STEPS
        .iter()
        .filter_map(|step| {
            let known = shape(step.example);
            let score = distance(&wanted, &known);
            (score * 2 <= wanted.len().max(known.len())).then_some((score, step))
        })
        .collect();
    scored.sort_by_key(|(score, _)| *score);
    scored.into_iter().take(3).map(|(_, step)| step).collect()
}

/// A step's words with what a scenario fills in (quoted values, ARNs, actions, numbers)
/// replaced by placeholders, so that only the wording is compared.
fn shape(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut in_quotes = false;
    for piece in text.split('"') {
        if in_quotes {
            words.push("\"_\"".to_owned());
        } else {
            for word in piece.split_whitespace() {
                let filled = word.contains(':') || word.chars().all(|c| c.is_ascii_digit());
                words.push(if filled {
                    "_".to_owned()
                } else {
                    word.to_lowercase()
                });
            }
        }
        in_quotes = !in_quotes;
    }
    words
}

/// The edit distance between two word lists, counting whole words.
fn distance(a: &[String], b: &[String]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, word_a) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, word_b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(word_a != word_b);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misworded_step_is_answered_with_the_step_it_meant() {
        let found = closest(r#"alice cannot do iam:AttachUserPolicy on "bob" because of an scp"#);
        assert!(
            found[0].wording.starts_with("ACTOR cannot perform"),
            "{found:?}"
        );

        let found = closest(r#"the root user of account "123456789012" lost its MFA device"#);
        assert_eq!(
            found[0].wording,
            r#"the root user of account "ACCOUNT" loses its MFA device"#
        );
    }

    #[test]
    fn nothing_is_suggested_for_a_step_unlike_any() {
        assert!(closest("the weather is fine").is_empty());
    }

    #[test]
    fn the_markdown_table_escapes_alternatives() {
        let table = markdown();
        assert!(table.contains(r"can\|cannot sign in"));
        assert_eq!(table.lines().count(), STEPS.len() + 2);
    }
}
