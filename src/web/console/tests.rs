//! The route table's guarantees: the menu of each role is the table's, every line is well formed,
//! and every route for admins refuses any other account before its handler runs (for a form, after
//! its CSRF token is checked), with the answer and the audit entry the console always gave.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

use super::{Access, Refusal, What, menu, table};
use crate::domain::AdminRole;
use crate::store::Store;
use crate::web::AppState;

#[test]
fn the_menu_of_each_role_is_the_table_s() {
    let everyone = [
        ("/admin/", "Dashboard"),
        ("/admin/campaigns", "Issues"),
        ("/admin/preview", "Preview"),
    ];
    let admins = [
        ("/admin/subscribers", "Subscribers"),
        ("/admin/import", "Import"),
        ("/admin/bounces", "Bounces"),
        ("/admin/quarantine", "Quarantine"),
        ("/admin/audit", "Audit log"),
    ];
    assert_eq!(menu(AdminRole::Editor).collect::<Vec<_>>(), everyone);
    assert_eq!(
        menu(AdminRole::Admin).collect::<Vec<_>>(),
        [&everyone[..], &admins[..]].concat()
    );
    // Each item is a page of the table that admits the role it is shown to.
    for role in AdminRole::ALL {
        for (path, _) in menu(*role) {
            assert!(
                table()
                    .iter()
                    .any(|r| r.path == path && r.method == Method::GET && r.access.admits(*role)),
                "{path} for {role}"
            );
        }
    }
}

#[test]
fn every_line_of_the_table_is_well_formed() {
    let lines = table();
    for (i, r) in lines.iter().enumerate() {
        let at = format!("{} {}", r.method, r.path);
        assert!(r.path.starts_with("/admin"), "{at}: outside the console");
        assert!(
            !lines[..i]
                .iter()
                .any(|o| o.method == r.method && o.path == r.path),
            "{at} twice"
        );
        if r.menu.is_some() {
            assert_eq!(r.method, Method::GET, "{at}: the menu links to pages");
            assert!(!r.path.contains('{'), "{at}: a menu link has no parameter");
        }
        if r.upload.is_some() {
            assert_eq!(r.method, Method::POST, "{at}: only a form uploads");
        }
        if let Access::Admins(Refusal::Data(What::Part(part))) = r.access {
            assert!(
                r.path.contains(&format!("{{{part}}}")),
                "{at}: the refusal names {{{part}}}, which the path lacks"
            );
        }
        if r.access == Access::Public {
            assert!(
                matches!(r.path, "/admin" | "/admin/login"),
                "{at}: only the way in is public"
            );
        }
    }
}

/// A console on a fresh database, with an editor and an admin signed in: (state, router,
/// the session cookie and CSRF token of each, by role).
async fn console() -> (
    tempfile::TempDir,
    Arc<AppState>,
    axum::Router,
    [(AdminRole, String, String); 2],
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let mut config = crate::config::Config::defaults();
    config.bounces.quarantine = dir.path().join("quarantine").display().to_string();
    let transport = crate::transport::Transport::from_url(
        &format!("file:{}", dir.path().join("outbox").display()),
        1,
        None,
    )
    .unwrap();
    let state = Arc::new(AppState::new(store.clone(), &config, transport, None).unwrap());
    let cookie = state.console.sessions.session_cookie();
    let mut signed = Vec::new();
    for (role, email) in [
        (AdminRole::Editor, "ed@example.org"),
        (AdminRole::Admin, "boss@example.org"),
    ] {
        store.set_admin(email, role, "not a hash").await.unwrap();
        let id = store.admin_by_email(email).await.unwrap().unwrap().id;
        let (token, csrf) = (super::auth::random_token(), super::auth::random_token());
        store
            .create_session(&super::auth::digest(&token), id, &csrf)
            .await
            .unwrap();
        signed.push((role, format!("{cookie}={token}"), csrf));
    }
    let router = crate::web::router(state.clone());
    (dir, state, router, signed.try_into().ok().unwrap())
}

/// The path with each `{part}` filled in (`{action}` as `act`, any other as `1`).
fn filled(path: &str) -> String {
    path.replace("{action}", "act")
        .split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let r = router.clone().oneshot(request).await.unwrap();
    let status = r.status();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn request(method: &Method, path: &str, cookie: &str, csrf: &str, upload: bool) -> Request<Body> {
    let b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookie);
    if *method == Method::GET {
        return b.body(Body::empty()).unwrap();
    }
    if upload {
        return b
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--XyZ--\r\n"
            )))
            .unwrap();
    }
    b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}")))
        .unwrap()
}

#[tokio::test]
async fn every_route_for_admins_refuses_an_editor_and_admits_an_admin() {
    let (_dir, state, router, [editor, admin]) = console().await;
    let (_, editor_cookie, editor_csrf) = &editor;
    for r in table() {
        let Access::Admins(refusal) = r.access else {
            // Open to every account: an editor's page is not refused.
            if r.access == Access::Accounts && r.method == Method::GET {
                let (status, _) = send(
                    &router,
                    request(&r.method, &filled(r.path), editor_cookie, "", false),
                )
                .await;
                assert_ne!(status, StatusCode::FORBIDDEN, "{} {}", r.method, r.path);
            }
            continue;
        };
        let path = filled(r.path);
        let at = format!("{} {path}", r.method);
        let upload = r.upload.is_some();
        if r.method != Method::GET {
            // A forged form is answered as forged, whoever sends it.
            let (status, body) = send(
                &router,
                request(&r.method, &path, editor_cookie, "forged", upload),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{at}");
            assert!(body.contains("<title>Not done"), "{at}: {body}");
        }
        let (status, body) = send(
            &router,
            request(&r.method, &path, editor_cookie, editor_csrf, upload),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{at}");
        match refusal {
            Refusal::AuditLog => assert_eq!(body, "editors cannot see the audit log\n"),
            Refusal::Control => assert!(
                body.contains(
                    "Only administrators can pause, resume, cancel or schedule an issue."
                ),
                "{at}: {body}"
            ),
            Refusal::Data(_) => assert!(
                body.contains("Editors cannot see or change subscriber data."),
                "{at}: {body}"
            ),
        }
        let (_, admin_cookie, admin_csrf) = &admin;
        let (status, _) = send(
            &router,
            request(&r.method, &path, admin_cookie, admin_csrf, upload),
        )
        .await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{at}: an admin is admitted");
    }
    // Each refusal wrote the entry it always wrote.
    let log: Vec<String> = state
        .store
        .audit_log(500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for entry in [
        "refused: subscribers (editor)",
        "refused: a subscriber (editor)",
        "refused: forget (editor)",
        "refused: act (editor)",
        "refused: the quarantine (editor)",
        "refused: import (editor)",
        "refused: export (editor)",
        "refused: bounces (editor)",
        "refused: campaign control (editor)",
        "refused: form not from this session (CSRF)",
    ] {
        assert!(log.iter().any(|a| a == entry), "{entry}: {log:?}");
    }
    assert!(
        !log.iter().any(|a| a.contains("audit")),
        "reading the audit log is not audited: {log:?}"
    );
}
