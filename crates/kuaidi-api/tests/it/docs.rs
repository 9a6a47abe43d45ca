//! `docs/errors.md` is generated from the error table; this test fails when it is stale.
//! `cargo xtask codegen` (or `UPDATE_EXPECT=1`) rewrites it.

use kuaidi_api::Code;

fn render() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         Generated from `crates/kuaidi-api/src/error/codes.rs` by `cargo xtask codegen`; do not edit by hand.\n\n\
         Every error body is `{\"code\", \"message\", \"type\", \"link\"}`.\n\
         Codes are never renamed or reused.\n\
         In a batch or stream, a rejected item carries the same `code` with its `field` and `value`.\n\n\
         | code | HTTP status | type | meaning |\n|---|---|---|---|\n",
    );
    for code in Code::ALL {
        out.push_str(&format!(
            "| <a id=\"{name}\"></a>`{name}` | {status} | `{kind}` | {doc} |\n",
            name = code.name(),
            status = code.status().as_u16(),
            kind = code.err_type().as_str(),
            doc = code.doc(),
        ));
    }
    out
}

#[test]
fn docs_errors_md_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
    let expected = render();
    let current = std::fs::read_to_string(&path).ok();
    if current.is_none() || std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    assert!(current.as_deref() == Some(expected.as_str()), "docs/errors.md is stale; run `cargo xtask codegen`");
}
