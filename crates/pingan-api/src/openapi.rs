//! The OpenAPI 3.1 document, generated from the handlers' annotations.
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, categories, imports, matters, photos, routes, views};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pingan 平安 API",
        description = "Grassroots social-governance platform. Errors answer `{\"code\", \"message\" (zh-CN), \"message_en\"}`. Times are milliseconds since the Unix epoch, UTC.",
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
        photos::upload,
        photos::download,
        categories::catalogue,
        categories::put_category,
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
