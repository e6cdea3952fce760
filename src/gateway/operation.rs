//! One decoded AWS API call: which service, which operation, and its parameters.
//!
//! IAM and STS speak the query protocol (a form body with `Action=...` and flattened
//! parameters such as `Tags.member.1.Key`), Organizations speaks JSON 1.1 (`X-Amz-Target:
//! AWSOrganizationsV20161128.ListRoots` and a JSON body). The gateway decodes both into an
//! [`Operation`] so that authorization and forwarding need not care which protocol it was.

use std::fmt;

/// The services the gateway fronts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Iam,
    Sts,
    Organizations,
}

impl Service {
    /// The service prefix of its IAM actions, as in `iam:AttachUserPolicy`.
    pub fn prefix(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::Organizations => "organizations",
        }
    }

    /// The name in a SigV4 credential scope.
    pub fn signing_name(self) -> &'static str {
        self.prefix()
    }

    /// Reads a SigV4 signing name.
    pub fn from_signing_name(name: &str) -> Option<Service> {
        match name {
            "iam" => Some(Service::Iam),
            "sts" => Some(Service::Sts),
            "organizations" => Some(Service::Organizations),
            _ => None,
        }
    }

    /// Whether errors go back as query-protocol XML (IAM, STS) or as JSON (Organizations).
    pub fn is_query_protocol(self) -> bool {
        !matches!(self, Service::Organizations)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// The parameters of a call, in the shape its protocol sent them.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// Query protocol: form fields in order, `Action` and `Version` included.
    Query(Vec<(String, String)>),
    /// JSON protocol: the request body (an object).
    Json(serde_json::Value),
}

/// A decoded API call.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub service: Service,
    /// The operation name as AWS spells it, for example `AttachUserPolicy`.
    pub name: String,
    pub params: Params,
}

impl Operation {
    /// The IAM action this operation is authorized as, for example `iam:AttachUserPolicy`.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service.prefix(), self.name)
    }

    /// A top-level parameter as text: a form field, or a string (or number, or boolean) field
    /// of the JSON body.
    pub fn param(&self, name: &str) -> Option<&str> {
        match &self.params {
            Params::Query(fields) => fields
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str()),
            Params::Json(body) => body.get(name).and_then(serde_json::Value::as_str),
        }
    }

    /// The members of a list parameter: `Name.member.N` fields of the query protocol in
    /// order, or the strings of a JSON array.
    pub fn list_param(&self, name: &str) -> Vec<&str> {
        match &self.params {
            Params::Query(fields) => {
                let prefix = format!("{name}.member.");
                let mut members: Vec<(u32, &str)> = fields
                    .iter()
                    .filter_map(|(key, value)| {
                        let index = key.strip_prefix(&prefix)?.parse().ok()?;
                        Some((index, value.as_str()))
                    })
                    .collect();
                members.sort_by_key(|(index, _)| *index);
                members.into_iter().map(|(_, value)| value).collect()
            }
            Params::Json(body) => body
                .get(name)
                .and_then(serde_json::Value::as_array)
                .map(|items| items.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_and_lists() {
        let operation = Operation {
            service: Service::Iam,
            name: "TagUser".into(),
            params: Params::Query(vec![
                ("Action".into(), "TagUser".into()),
                ("UserName".into(), "alice".into()),
                ("TagKeys.member.2".into(), "b".into()),
                ("TagKeys.member.1".into(), "a".into()),
            ]),
        };
        assert_eq!(operation.action(), "iam:TagUser");
        assert_eq!(operation.param("UserName"), Some("alice"));
        assert_eq!(operation.list_param("TagKeys"), ["a", "b"]);
    }

    #[test]
    fn json_parameters() {
        let operation = Operation {
            service: Service::Organizations,
            name: "ListPoliciesForTarget".into(),
            params: Params::Json(
                serde_json::json!({"TargetId": "222222222222", "Filter": "SERVICE_CONTROL_POLICY"}),
            ),
        };
        assert_eq!(operation.param("TargetId"), Some("222222222222"));
        assert_eq!(operation.action(), "organizations:ListPoliciesForTarget");
    }
}
