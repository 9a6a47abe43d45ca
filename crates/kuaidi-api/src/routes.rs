//! The `/v1` router: one module per resource, each registering its handlers and their OpenAPI paths together, so
//! the document cannot miss a route.

mod audit;
mod batch;
mod carriers;
mod epcis;
mod events;
mod facilities;
mod health;
mod ingest;
mod me;
mod operators;
mod track;
mod vehicles;
mod waybills;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Kuaidi API", description = "The express-delivery data hub and supervision platform."),
    modifiers(&BearerAuth),
    tags(
        (name = "ingest", description = "Waybills and scan events from carriers"),
        (name = "trace", description = "Chains of custody and reverse tracing"),
        (name = "public", description = "Open to consumers without a key"),
        (name = "reference", description = "Carriers and facilities"),
        (name = "admin", description = "Keys and the audit log"),
        (name = "epcis", description = "GS1 EPCIS 2.0 capture and query"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("kd_...").build()),
        );
    }
}

/// The `/v1` routes and the OpenAPI document describing exactly them.
pub fn v1() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(events::post_event))
        .routes(routes!(waybills::post_waybill))
        .routes(routes!(waybills::get_waybill))
        .routes(routes!(batch::post_batch))
        .routes(routes!(ingest::post_ingest))
        .routes(routes!(operators::get_operator_parcels))
        .routes(routes!(vehicles::get_vehicle_parcels))
        .routes(routes!(track::get_track))
        .routes(routes!(carriers::get_carriers))
        .routes(routes!(facilities::get_facilities))
        .routes(routes!(me::get_me))
        .routes(routes!(audit::get_audit))
        .routes(routes!(health::get_health))
        .routes(routes!(epcis::post_capture))
        .routes(routes!(epcis::get_capture))
        .routes(routes!(epcis::post_event, epcis::get_events))
        .routes(routes!(epcis::get_context))
        .split_for_parts()
}
