//! The OpenAPI 3.1 document, generated from the handlers' annotations.
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, categories, imports, matters, notify, photos, portal, rentals, routes, views};

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
