//! The role matrix: each role × each RPC, against the table in docs/rbac.md.

use std::collections::HashMap;

use pp_proto::common::Role as ProtoRole;
use tonic::Code;
use uuid::Uuid;

use crate::support::*;

const ROLES: [(&str, ProtoRole); 4] = [
    ("admin", ProtoRole::Admin),
    ("manager", ProtoRole::Manager),
    ("analyst", ProtoRole::Analyst),
    ("api_client", ProtoRole::ApiClient),
];

/// `Service/Method` → role → `allow` | `deny` | `public`, parsed from docs/rbac.md.
pub(crate) fn matrix() -> HashMap<String, HashMap<String, String>> {
    let text = include_str!("../../../docs/rbac.md");
    let mut rows = HashMap::new();
    let mut header: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        if cells.first().is_some_and(|c| c == "RPC") {
            header = cells;
            continue;
        }
        if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            continue;
        }
        let by_role = header
            .iter()
            .skip(1)
            .cloned()
            .zip(cells.iter().skip(1).cloned())
            .collect();
        rows.insert(cells[0].clone(), by_role);
    }
    rows
}

#[tokio::test]
async fn every_role_gets_exactly_what_the_table_says() {
    let table = matrix();
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    // Targets that do not exist: permission is decided before existence, so allowed
    // roles see NOT_FOUND and denied roles PERMISSION_DENIED.
    let targets = Targets {
        tenant_id: tenant.tenant_id.clone(),
        brand_id: Uuid::new_v4().to_string(),
        user_id: Uuid::new_v4().to_string(),
        api_key_id: Uuid::new_v4().to_string(),
        refresh_token: String::new(),
        integration_id: Uuid::new_v4().to_string(),
        sync_run_id: Uuid::new_v4().to_string(),
        recommendation_id: Uuid::new_v4().to_string(),
        alert_id: Uuid::new_v4().to_string(),
        alert_rule_id: Uuid::new_v4().to_string(),
        question_id: Uuid::new_v4().to_string(),
        answer_id: Uuid::new_v4().to_string(),
    };
    // Every role's token first: the admin's run ends with Logout.
    let mut tokens = Vec::new();
    for (role_name, role) in ROLES {
        tokens.push((role_name, user_with_role(&stack, &tenant, role).await.1));
    }
    let mut checked = 0;
    for (role_name, token) in tokens {
        let mut methods = served_methods(&stack);
        // Logout ends the token: run it last.
        methods.sort_by_key(|m| m.ends_with("/Logout"));
        for method in methods {
            let key = method
                .rsplit_once('.')
                .map_or(method.as_str(), |(_, tail)| tail)
                .to_owned();
            let expected = table
                .get(&key)
                .and_then(|row| row.get(role_name))
                .unwrap_or_else(|| panic!("docs/rbac.md has no entry for {key} / {role_name}"));
            let result = call(&stack, &method, &token, &targets).await;
            match expected.as_str() {
                "deny" | "service" => {
                    let status = result.expect_err(&method);
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{role_name} on {key}: {status:?}"
                    );
                }
                "allow" => {
                    if let Err(status) = result {
                        assert!(
                            !matches!(
                                status.code(),
                                Code::PermissionDenied | Code::Unauthenticated | Code::Internal
                            ),
                            "{role_name} on {key} should pass the permission check: {status:?}"
                        );
                    }
                }
                // Public RPCs judge their own credentials (a bad password is UNAUTHENTICATED).
                "public" => {
                    if let Err(status) = result {
                        assert!(
                            !matches!(status.code(), Code::PermissionDenied | Code::Internal),
                            "{role_name} on {key}: {status:?}"
                        );
                    }
                }
                other => panic!("docs/rbac.md: unknown cell {other:?} for {key}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * served_methods(&stack).len());
    // Public RPCs also work with no token at all; private ones do not.
    for method in served_methods(&stack) {
        let key = method
            .rsplit_once('.')
            .map_or(method.as_str(), |(_, tail)| tail)
            .to_owned();
        let public = table[&key]["admin"] == "public";
        let result = call(&stack, &method, "", &targets).await;
        if table[&key]["admin"] == "service" {
            let status = result.expect_err(&method);
            assert_eq!(status.code(), Code::Unauthenticated, "{key}: {status:?}");
            continue;
        }
        let missing_token = |status: &tonic::Status| {
            pp_error::error_reason(status).as_deref() == Some("MISSING_TOKEN")
        };
        if public {
            if let Err(status) = result {
                assert!(!missing_token(&status), "{key} is public: {status:?}");
            }
        } else {
            let status = result.expect_err(&method);
            assert!(
                status.code() == Code::Unauthenticated && missing_token(&status),
                "{key} needs a token: {status:?}"
            );
        }
    }
}
