//! The API's error type: every failure becomes a JSON body with a stable
//! machine-readable `code`, a zh-CN `message` and an English `message_en`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pingan_storage::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not signed in")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed sign-ins")]
    Throttled { retry_after_secs: u64 },
    #[error("not allowed for this role")]
    Forbidden,
    #[error("outside the caller's scope: {0}")]
    OutOfScope(String),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("the point lies in no grid")]
    NotInAnyGrid,
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("invalid JSON body: {0}")]
    InvalidJson(String, StatusCode),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("import refused: {0}")]
    ImportRefused(String),
    #[error("{0}")]
    Workflow(pingan_domain::workflow::Refusal),
    #[error("{0}")]
    CaseWorkflow(pingan_domain::mediation::CaseRefusal),
    #[error("stale version: {0}")]
    StaleVersion(String),
    #[error("the reported place lies in no grid")]
    PlaceOutsideGrids,
    /// Input refused for a reason with its own stable code.
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// Refused with its own status and code (e.g. a 409 for a rental unit
    /// in the wrong state).
    #[error("{en}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        zh: String,
        en: String,
    },
    /// An upload that is not an acceptable photo.
    #[error("{0}")]
    Photo(pingan_storage::photos::PhotoError),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with its own code and both messages.
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ApiError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `out_of_scope`.
    pub code: &'static str,
    /// Message in Chinese (zh-CN).
    pub message: String,
    /// The same message in English.
    pub message_en: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            // Out-of-scope reads answer 404 so they do not reveal what exists;
            // writes naming an outside region answer 403.
            ApiError::OutOfScope(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NotInAnyGrid => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidJson(_, status) => *status,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::ImportRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Workflow(pingan_domain::workflow::Refusal::NotAllowedInState { .. }) => {
                StatusCode::CONFLICT
            }
            ApiError::Workflow(_) => StatusCode::FORBIDDEN,
            ApiError::CaseWorkflow(pingan_domain::mediation::CaseRefusal::NotAllowedInState {
                ..
            }) => StatusCode::CONFLICT,
            ApiError::CaseWorkflow(_) => StatusCode::FORBIDDEN,
            ApiError::StaleVersion(_) => StatusCode::CONFLICT,
            ApiError::PlaceOutsideGrids => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Refused { status, .. } => *status,
            ApiError::Photo(e) => match e {
                pingan_storage::photos::PhotoError::TooLarge { .. } => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                pingan_storage::photos::PhotoError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
                pingan_storage::photos::PhotoError::NotAnImage => {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
                _ => StatusCode::BAD_REQUEST,
            },
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::Throttled { .. } => "too_many_attempts",
            ApiError::Forbidden => "forbidden",
            ApiError::OutOfScope(_) => "out_of_scope",
            ApiError::NotFound(_) => "not_found",
            ApiError::NotInAnyGrid => "not_in_any_grid",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidJson(_, s) if *s == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            ApiError::InvalidJson(..) => "invalid_json",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::Conflict(_) => "conflict",
            ApiError::ImportRefused(_) => "import_refused",
            ApiError::Workflow(r) => r.code(),
            ApiError::CaseWorkflow(r) => r.code(),
            ApiError::StaleVersion(_) => "stale_version",
            ApiError::PlaceOutsideGrids => "not_in_any_grid",
            ApiError::Invalid { code, .. } | ApiError::Refused { code, .. } => code,
            ApiError::Photo(e) => e.code(),
            ApiError::Internal(_) => "internal",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            ApiError::Unauthenticated => "未登录或登录已过期".into(),
            ApiError::BadCredentials => "用户名或密码错误".into(),
            ApiError::Throttled { retry_after_secs } => {
                format!("登录失败次数过多，请 {retry_after_secs} 秒后再试")
            }
            ApiError::Forbidden => "当前角色无权执行此操作".into(),
            ApiError::OutOfScope(what) => format!("超出本账号的数据范围：{what}"),
            ApiError::NotFound(what) => format!("未找到{}", what_zh(what)),
            ApiError::NotInAnyGrid => "该位置不在任何网格内".into(),
            ApiError::BadRequest(m) => format!("请求有误：{m}"),
            ApiError::InvalidJson(m, _) => format!("请求体不是有效的 JSON：{m}"),
            ApiError::InvalidQuery(m) => format!("查询参数有误：{m}"),
            ApiError::Conflict(m) => format!("已存在：{m}"),
            ApiError::ImportRefused(m) => format!("导入被拒绝，未写入任何数据：{m}"),
            ApiError::Workflow(pingan_domain::workflow::Refusal::NotAllowedInState {
                state,
                action,
            }) => {
                format!(
                    "事件处于“{}”状态，不能执行“{}”",
                    state.name_zh(),
                    action.name_zh()
                )
            }
            ApiError::Workflow(pingan_domain::workflow::Refusal::NotAllowedForActor {
                state,
                action,
                ..
            }) => {
                format!(
                    "无权对“{}”状态的事件执行“{}”",
                    state.name_zh(),
                    action.name_zh()
                )
            }
            ApiError::CaseWorkflow(pingan_domain::mediation::CaseRefusal::NotAllowedInState {
                state,
                action,
            }) => format!(
                "调解案件处于“{}”状态，不能执行“{}”",
                state.name_zh(),
                action.name_zh()
            ),
            ApiError::CaseWorkflow(pingan_domain::mediation::CaseRefusal::NotAllowedForActor {
                state,
                action,
                ..
            }) => format!(
                "无权对“{}”状态的调解案件执行“{}”",
                state.name_zh(),
                action.name_zh()
            ),
            ApiError::StaleVersion(m) => format!("事件已被他人更新，请刷新后重试（{m}）"),
            ApiError::PlaceOutsideGrids => "上报位置不在任何网格内".into(),
            ApiError::Invalid { zh, .. } | ApiError::Refused { zh, .. } => zh.clone(),
            ApiError::Photo(e) => photo_message_zh(e),
            ApiError::Internal(_) => "服务器内部错误".into(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::Throttled { retry_after_secs } => {
                format!("too many failed sign-ins; try again in {retry_after_secs} s")
            }
            ApiError::ImportRefused(m) => format!("import refused, nothing was written: {m}"),
            other => other.to_string(),
        }
    }
}

fn photo_message_zh(e: &pingan_storage::photos::PhotoError) -> String {
    use pingan_storage::photos::PhotoError as P;
    match e {
        P::TooLarge { max, actual } => {
            format!("照片过大：{actual} 字节，上限 {max} 字节")
        }
        P::NotAnImage => "上传的文件不是 JPEG、PNG 或 WebP 图片".into(),
        P::BadDimensions { width, height } => format!("照片尺寸无效：{width}×{height}"),
        P::Io(_) => "照片保存失败".into(),
        _ => "照片文件已损坏或不完整".into(),
    }
}

fn what_zh(what: &str) -> &'static str {
    match what {
        "region" => "该区划",
        "grid" => "该网格",
        "unit" => "该单位",
        "account" => "该账号",
        "matter" => "该事件",
        "case" => "该调解案件",
        "photo" => "该照片",
        "webhook" => "该 Webhook 订阅",
        "property" => "该房屋",
        "rental unit" => "该出租房间",
        "tenancy" => "该入住登记",
        "listing" => "该房源",
        "report" => "该月报",
        _ => "所请求的资源",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let status = self.status();
        let body = ErrorBody {
            code: self.code(),
            message: self.message_zh(),
            message_en: self.message_en(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::Throttled { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) if m.contains("version") => ApiError::StaleVersion(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(m) => ApiError::BadRequest(m),
            StoreError::OutOfScope(m) => ApiError::OutOfScope(m),
            StoreError::NotFound(m) if m.starts_with("case") => ApiError::NotFound("case"),
            StoreError::NotFound(_) => ApiError::NotFound("matter"),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
