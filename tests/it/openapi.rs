//! The OpenAPI document lists exactly the API routes, and every listed operation is routed.

use std::collections::BTreeSet;

use crate::common::*;

#[tokio::test]
async fn openapi_matches_the_routes() {
    let doc: serde_json::Value = serde_json::from_str(jmb::api::OPENAPI).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    let declared: BTreeSet<(String, String)> =
        jmb::api::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, declared);

    // Each operation is routed: never 404-for-route or 405.
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap();
    for (method, path) in &declared {
        let url = app.url(&path.replace("{id}", id));
        let method: reqwest::Method = method.to_uppercase().parse().unwrap();
        let resp = app
            .client
            .request(method.clone(), url)
            .headers(TestApp::as_user("jdupont"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), 405, "{method} {path}");
        if resp.status() == 404 {
            let body: serde_json::Value = resp.json().await.unwrap();
            assert!(!body["detail"].as_str().unwrap().contains("lien"), "{method} {path} is not routed");
        }
    }
    let resp = app.get("/api/v1/openapi.json").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["openapi"], "3.1.0");
    app.stop().await;
}
