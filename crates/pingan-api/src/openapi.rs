//! The OpenAPI 3.1 document, generated from the handlers' annotations.
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{
    auth, categories, imports, indicators, live, matters, mediation, notify, overview, patrols,
    photos, portal, rentals, reports, routes, views,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pingan 平安 API",
        description = "Grassroots social-governance platform. Errors answer `{\"code\", \"message\" (zh-CN), \"message_en\"}`. Times are milliseconds since the Unix epoch, UTC.\n\nWebhooks: each delivery is a POST of `{\"event\", \"matter_id\", \"state\", \"log_seq\", \"at\"}` with headers `X-Pingan-Event`, `X-Pingan-Delivery` (an id: the same id may arrive twice, so deduplicate on it), `X-Pingan-Timestamp` (Unix seconds) and `X-Pingan-Signature: sha256=HEX`, where HEX is HMAC-SHA256 under the webhook's secret of `TIMESTAMP + \".\" + BODY`. A 2xx answer within 10 s counts as delivered; otherwise it is retried after 30 s, 1 min, 2 min, … (at most 1 h apart), 10 attempts in all.",
        license(name = "Apache-2.0")
    ),
    paths(
        routes::healthz,
        auth::login,
        auth::logout,
        auth::me,
        routes::locate,
        routes::region,
        routes::region_children,
        routes::grids,
        routes::grid,
        routes::import_grids,
        routes::units,
        routes::unit,
        routes::create_unit,
        routes::accounts,
        routes::account,
        routes::create_account,
        routes::change_account,
        routes::reveal_phone,
        matters::create,
        matters::list,
        matters::get,
        matters::act,
        matters::log,
        matters::track,
        matters::inbox,
        matters::counts,
        matters::geojson,
        matters::dispatch_options,
        matters::duplicates,
        overview::map,
        overview::dashboard,
        live::stream,
        indicators::indicator_report,
        indicators::indicator_definitions,
        indicators::rankings,
        indicators::warnings,
        indicators::get_warning_rules,
        indicators::put_warning_rules,
        indicators::get_composite_index,
        indicators::put_composite_index,
        indicators::alerts,
        indicators::get_alert_settings,
        indicators::put_alert_settings,
        reports::list,
        reports::create,
        reports::one,
        reports::pdf_file,
        reports::xlsx_file,
        patrols::create,
        patrols::list,
        patrols::get,
        mediation::committees,
        mediation::create_committee,
        mediation::create,
        mediation::list,
        mediation::get,
        mediation::act,
        mediation::parties,
        mediation::log,
        mediation::agreement_pdf,
        mediation::stats,
        portal::send_code,
        portal::report,
        portal::act,
        photos::upload,
        photos::download,
        categories::catalogue,
        categories::put_category,
        notify::feed,
        notify::unread,
        notify::mark_read,
        notify::create_webhook,
        notify::webhooks,
        notify::deactivate_webhook,
        rentals::create_property,
        rentals::properties,
        rentals::property,
        rentals::create_unit,
        rentals::units,
        rentals::unit,
        rentals::edit_unit,
        rentals::act,
        rentals::inspect,
        rentals::inspections,
        rentals::photo,
        rentals::rounds,
        rentals::check_in,
        rentals::tenancies,
        rentals::check_out,
        rentals::lookup,
        rentals::overview,
        rentals::qr_svg,
        rentals::qr_png_route,
        rentals::search,
        rentals::geojson,
        rentals::listing,
    ),
    components(schemas(
        crate::error::ErrorBody,
        views::AccountView,
        views::RegionView,
        views::GridView,
        views::UnitView,
        imports::GridImportReport,
    )),
    modifiers(&SessionAuth),
    security(("bearer" = []), ("cookie" = []))
)]
pub struct ApiDoc;

struct SessionAuth;

impl Modify for SessionAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    /// The front end generates its API types from `web/openapi.json`, which
    /// must therefore be the document the server answers with.
    #[test]
    fn web_copy_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/openapi.json");
        let doc = serde_json::to_string_pretty(&super::document()).unwrap() + "\n";
        if std::env::var_os("PINGAN_UPDATE_DOCS").is_some() {
            std::fs::write(path, &doc).unwrap();
            return;
        }
        // Generated clients name operations by their ids: each must be unique.
        let value: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let mut ids: Vec<&str> = value["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|ops| ops.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        // Query structs must say so: utoipa otherwise lists their fields as path parameters.
        for (path, ops) in value["paths"].as_object().unwrap() {
            for op in ops.as_object().unwrap().values() {
                for param in op["parameters"].as_array().into_iter().flatten() {
                    let name = param["name"].as_str().unwrap();
                    assert!(
                        param["in"] != "path" || path.contains(&format!("{{{name}}}")),
                        "{path}: {name} is no path parameter (add #[into_params(parameter_in = Query)])"
                    );
                }
            }
        }
        ids.sort_unstable();
        let repeated: Vec<&&str> = ids
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| &w[0])
            .collect();
        assert!(repeated.is_empty(), "operationIds used twice: {repeated:?}");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == doc,
            "web/openapi.json is out of date; run PINGAN_UPDATE_DOCS=1 cargo test -p pingan-api openapi"
        );
    }

    /// utoipa names a schema after its type, so two types of one name would
    /// silently share a schema: each must be named apart (`#[schema(as = …)]`).
    #[test]
    fn schema_names_are_unique() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if !(line.starts_with("#[derive(") && line.contains("ToSchema")) {
                    continue;
                }
                let mut renamed = None;
                for next in &lines[i + 1..] {
                    if let Some(alias) = next.strip_prefix("#[schema(as = ") {
                        renamed = Some(alias.trim_end_matches(")]").to_string());
                    }
                    let item = next
                        .strip_prefix("pub struct ")
                        .or_else(|| next.strip_prefix("pub enum "));
                    if let Some(item) = item {
                        let name: String = item
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        names.push(renamed.unwrap_or(name));
                        break;
                    }
                }
            }
        }
        assert!(names.len() > 50, "found only {names:?}");
        names.sort();
        let repeated: Vec<&String> = names
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| &w[0])
            .collect();
        assert!(repeated.is_empty(), "schema names used twice: {repeated:?}");
    }
}
