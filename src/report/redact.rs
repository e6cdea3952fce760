//! Keeping credentials out of reports.
//!
//! A drill handles real-looking credentials: the gateway mints access keys and session tokens,
//! runbooks print them, and error texts may echo them. Reports are handed to auditors and
//! stored in CI, so every free-text field goes through [`redact`] before any writer sees it
//! ([`RunReport::redacted`]). The patterns err on the side of hiding: a 40-character hex
//! digest is hidden as if it were a secret access key, which costs a reader little, while a
//! leaked key costs a rotation and an incident.

use super::{DeclaredDelay, Event, RunReport, ScenarioReport, StepReport, StepStatus, Verdict};

/// What a hidden credential is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The length of an AWS secret access key.
const SECRET_KEY_LEN: usize = 40;

/// Runs of base64 at least this long are taken for session tokens (real ones are hundreds of
/// characters) or other encoded credentials.
const TOKEN_MIN_LEN: usize = 100;

/// Replaces with `[redacted]` anything in `text` that looks like an AWS credential:
///
/// - a secret access key: exactly 40 characters of `[A-Za-z0-9/+=]` between characters that
///   cannot be part of one, also when written as `name=SECRET`;
/// - a session token: a run of 100 or more such characters;
/// - an access key id: `AKIA` or `ASIA` followed by 16 uppercase letters or digits, wherever
///   it appears.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;

    while !rest.is_empty() {
        let run_len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
        if run_len == 0 {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }

        let (run, after) = rest.split_at(run_len);
        redact_run(run, &mut out);
        rest = after;
    }
    out
}

/// A run of key characters (all ASCII): a token, a secret, or ordinary words to keep.
fn redact_run(run: &str, out: &mut String) {
    if run.len() >= TOKEN_MIN_LEN || run.len() == SECRET_KEY_LEN {
        out.push_str(REDACTED);
        return;
    }

    // `aws_secret_access_key=SECRET` is one run; look at each side of every `=` as well.
    for (i, piece) in run.split('=').enumerate() {
        if i > 0 {
            out.push('=');
        }
        if piece.len() == SECRET_KEY_LEN {
            out.push_str(REDACTED);
        } else {
            redact_key_ids(piece, out);
        }
    }
}

/// Replaces every `AKIA…`/`ASIA…` access key id in `piece` (ASCII only).
fn redact_key_ids(piece: &str, out: &mut String) {
    let bytes = piece.as_bytes();
    let mut kept = 0;
    let mut i = 0;

    while i + 20 <= bytes.len() {
        let prefix = &bytes[i..i + 4];
        let is_key_id = (prefix == b"AKIA" || prefix == b"ASIA")
            && bytes[i + 4..i + 20]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());

        if is_key_id {
            out.push_str(&piece[kept..i]);
            out.push_str(REDACTED);
            i += 20;
            kept = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&piece[kept..]);
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '+' | '=')
}

impl RunReport {
    /// A copy with [`redact`] applied to every text field, which is what every writer renders.
    pub fn redacted(&self) -> RunReport {
        RunReport {
            started_at: self.started_at,
            finished_at: self.finished_at,
            emulator: redact(&self.emulator),
            lockdrill_version: redact(&self.lockdrill_version),
            scenarios: self
                .scenarios
                .iter()
                .map(ScenarioReport::redacted)
                .collect(),
        }
    }
}

impl ScenarioReport {
    fn redacted(&self) -> ScenarioReport {
        let verdict = match &self.verdict {
            Verdict::Recovered => Verdict::Recovered,
            Verdict::Unrecoverable { reason } => Verdict::Unrecoverable {
                reason: redact(reason),
            },
            Verdict::Failed { reason } => Verdict::Failed {
                reason: redact(reason),
            },
            Verdict::Skipped { reason } => Verdict::Skipped {
                reason: redact(reason),
            },
        };
        let declared_delays = self
            .declared_delays
            .iter()
            .map(|d| DeclaredDelay {
                what: redact(&d.what),
                duration: d.duration,
            })
            .collect();

        ScenarioReport {
            feature: redact(&self.feature),
            feature_path: redact(&self.feature_path),
            name: redact(&self.name),
            line: self.line,
            tags: self.tags.iter().map(|t| redact(t)).collect(),
            verdict,
            steps: self.steps.iter().map(StepReport::redacted).collect(),
            lockout_at: self.lockout_at,
            recovered_at: self.recovered_at,
            declared_delays,
        }
    }
}

impl StepReport {
    fn redacted(&self) -> StepReport {
        let status = match &self.status {
            StepStatus::Failed { message } => StepStatus::Failed {
                message: redact(message),
            },
            other => other.clone(),
        };

        StepReport {
            keyword: redact(&self.keyword),
            text: redact(&self.text),
            line: self.line,
            status,
            started_at: self.started_at,
            duration: self.duration,
            events: self.events.iter().map(Event::redacted).collect(),
        }
    }
}

impl Event {
    fn redacted(&self) -> Event {
        Event {
            at: self.at,
            actor: redact(&self.actor),
            call: redact(&self.call),
            resource: redact(&self.resource),
            decision: redact(&self.decision),
            message: self.message.as_deref().map(redact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";

    #[test]
    fn hides_a_secret_access_key_wherever_it_is_bounded() {
        assert_eq!(redact(SECRET), REDACTED);
        assert_eq!(redact(&format!("secret: {SECRET}.")), "secret: [redacted].");
        assert_eq!(
            redact(&format!("aws_secret_access_key={SECRET}\n")),
            "aws_secret_access_key=[redacted]\n"
        );
        assert_eq!(redact(&format!("\"{SECRET}\"")), "\"[redacted]\"");
    }

    #[test]
    fn hides_access_key_ids_even_inside_words() {
        assert_eq!(redact(&format!("key {KEY_ID} used")), "key [redacted] used");
        assert_eq!(redact("ASIAY34FZKBOKMUTVV7A"), REDACTED);
        assert_eq!(redact(&format!("id={KEY_ID},x")), "id=[redacted],x");
        assert_eq!(redact(&format!("x{KEY_ID}y")), "x[redacted]y");
    }

    #[test]
    fn hides_session_tokens() {
        let token = format!("IQoJb3JpZ2luX2VjE{}", "Aa0+/".repeat(30));
        let text = format!("X-Amz-Security-Token: {token} end");
        assert_eq!(redact(&text), "X-Amz-Security-Token: [redacted] end");
    }

    #[test]
    fn keeps_ordinary_text() {
        let texts = [
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
             iam:AttachUserPolicy on resource: arn:aws:iam::123456789012:user/bob",
            "AKIA alone, ASIA-Pacific, AKIAshort",
            "résumé <script>&\"'",
            "",
        ];
        for text in texts {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn keeps_runs_that_are_not_key_sized() {
        let thirty_nine = "a".repeat(39);
        let forty_one = "a".repeat(41);
        assert_eq!(redact(&thirty_nine), thirty_nine);
        assert_eq!(redact(&forty_one), forty_one);
        assert_eq!(redact(&"a".repeat(40)), REDACTED);
    }
}
