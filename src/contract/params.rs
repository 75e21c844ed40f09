//! Request parameters the way devise_token_auth reads them (docs/contract.md §2.0.2): JSON,
//! form-urlencoded or multipart bodies merged over the query string, top-level names, unknown names ignored,
//! non-scalar values dropped, an empty body meaning "no params". One extractor, `Params<T>`,
//! does all of it, so every endpoint follows the same rules and the OpenAPI document still shows
//! a typed schema for both content types.

use std::borrow::Cow;

use poem::{Request, RequestBody, Response, error::ResponseError, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaParamIn, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::{Map, Value};

/// A scalar parameter, lenient as Rails params: strings as they are, numbers and booleans as
/// their text, `null`, arrays and objects as absent. Never fails to parse. `REQUIRED` and
/// `EMAIL` only shape the document (required; `format: email`): a request without the value,
/// or with something else, still parses and gets the contract's own answer for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Param<const REQUIRED: bool = false, const EMAIL: bool = false>(pub Option<String>);

/// A parameter the operation cannot succeed without.
pub type RequiredParam = Param<true>;

/// An e-mail address.
pub type EmailParam = Param<false, true>;

/// An e-mail address the operation cannot succeed without.
pub type RequiredEmailParam = Param<true, true>;

impl<const REQUIRED: bool, const EMAIL: bool> Param<REQUIRED, EMAIL> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// Present and not blank (Rails' `present?`).
    pub fn filled(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.trim().is_empty())
    }
}

/// Rails' reading of one JSON value as a scalar param.
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

impl<const REQUIRED: bool, const EMAIL: bool> Type for Param<REQUIRED, EMAIL> {
    const IS_REQUIRED: bool = REQUIRED;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        if EMAIL {
            MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "email")))
        } else {
            String::schema_ref()
        }
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.0.iter())
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<const REQUIRED: bool, const EMAIL: bool> ParseFromJSON for Param<REQUIRED, EMAIL> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Param(value.as_ref().and_then(scalar)))
    }
}

impl<const REQUIRED: bool, const EMAIL: bool> ToJSON for Param<REQUIRED, EMAIL> {
    fn to_json(&self) -> Option<Value> {
        self.0.clone().map(Value::String)
    }
}

/// The merged parameters of a request: `typed` for the fields an endpoint documents, `raw` for
/// the rest (extra user attributes, credential fallbacks, `unbatch`).
pub struct Params<T> {
    pub typed: T,
    pub raw: Map<String, Value>,
}

impl<T> Params<T> {
    pub fn get(&self, name: &str) -> Option<String> {
        self.raw.get(name).and_then(scalar)
    }

    /// A parameter only when it is a string: URLs given as numbers or booleans count as
    /// absent (docs/contract.md §9.4).
    pub fn get_string(&self, name: &str) -> Option<String> {
        self.raw
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    pub fn has(&self, name: &str) -> bool {
        self.raw
            .get(name)
            .is_some_and(|v| !matches!(v, Value::Array(_) | Value::Object(_)))
    }
}

/// How much of a body is read, and for how long; set by the app as request data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    pub max_bytes: usize,
    /// From the end of the headers to the end of the body.
    pub read_timeout: std::time::Duration,
}

impl Default for BodyLimit {
    fn default() -> BodyLimit {
        BodyLimit {
            max_bytes: 64 * 1024,
            read_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// A body the parameter rules refuse, answered with an E1 body and its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("Request body is too large.")]
    TooLarge,
    #[error("Request body not received in time.")]
    TimedOut,
    #[error("Could not read the request body.")]
    Unreadable,
    #[error("Invalid form body: not UTF-8.")]
    NotUtf8,
    #[error("Invalid JSON body: expected an object.")]
    NotAnObject,
    #[error("Invalid JSON body: {0}.")]
    InvalidJson(String),
    #[error("Invalid multipart body: {0}.")]
    InvalidMultipart(String),
    #[error("{UNSUPPORTED_TYPE}")]
    UnsupportedType,
    /// The body matched neither the typed schema (cannot happen with `Param` fields).
    #[error("{0}")]
    Invalid(String),
}

impl ParamsError {
    /// The answer's text as a catalogue message; `None` for a schema refusal, whose text is
    /// poem-openapi's own.
    pub fn message(&self) -> Option<super::messages::Message> {
        use super::messages::Message;
        Some(match self {
            ParamsError::TooLarge => super::messages::BODY_TOO_LARGE,
            ParamsError::TimedOut => Message::new("body-timed-out"),
            ParamsError::Unreadable => Message::new("body-unreadable"),
            ParamsError::NotUtf8 => Message::new("body-not-utf8"),
            ParamsError::NotAnObject => Message::new("body-not-an-object"),
            ParamsError::InvalidJson(detail) => {
                Message::new("body-invalid-json").with("detail", detail.as_str())
            }
            ParamsError::InvalidMultipart(detail) => {
                Message::new("body-invalid-multipart").with("detail", detail.as_str())
            }
            ParamsError::UnsupportedType => super::messages::UNSUPPORTED_CONTENT_TYPE,
            ParamsError::Invalid(_) => return None,
        })
    }
}

impl ResponseError for ParamsError {
    fn status(&self) -> StatusCode {
        match self {
            ParamsError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ParamsError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            ParamsError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn as_response(&self) -> Response {
        super::bodies::error_response(self.status(), &self.to_string())
    }
}

/// The answer to any other body type (415).
pub const UNSUPPORTED_TYPE: &str = "Unsupported Content-Type: send application/json, \
                                    application/x-www-form-urlencoded or multipart/form-data.";

enum BodyKind {
    Json,
    Form,
    Multipart,
}

fn body_kind(content_type: Option<&str>) -> Option<BodyKind> {
    let mime: mime::Mime = content_type?.parse().ok()?;
    match (
        mime.type_().as_str(),
        mime.subtype().as_str(),
        mime.suffix(),
    ) {
        ("application", "json", _) | ("application", _, Some(mime::JSON)) => Some(BodyKind::Json),
        ("application", "x-www-form-urlencoded", _) => Some(BodyKind::Form),
        ("multipart", "form-data", _) => Some(BodyKind::Multipart),
        _ => None,
    }
}

/// Parses `a=1&b=2`, refusing bytes that do not decode to UTF-8 (Rails answers 400 there too).
pub fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, ParamsError> {
    let mut map = Map::new();
    for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let decode = |s: &[u8]| -> Result<String, ParamsError> {
            let plus_as_space: Vec<u8> = s
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&plus_as_space)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ParamsError::NotUtf8)
        };
        map.insert(decode(k)?, Value::String(decode(v)?));
    }
    Ok(map)
}

/// Parses a `multipart/form-data` body (a `FormData` sent with `fetch`) as Rails does for a
/// form: each text part is a string parameter, the last of a repeated name winning. A file part
/// counts as a parameter with no value, like JSON's `null`: Rails would hand the upload object to
/// the model, where a scalar is expected (and fail with a 500).
pub async fn parse_multipart(
    req: &Request,
    body: impl Into<poem::Body>,
) -> Result<Map<String, Value>, ParamsError> {
    let invalid = |e: poem::Error| ParamsError::InvalidMultipart(e.to_string());
    let mut body = RequestBody::new(body.into());
    let mut multipart = <poem::web::Multipart as poem::FromRequest>::from_request(req, &mut body)
        .await
        .map_err(invalid)?;
    let mut map = Map::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| invalid(e.into()))?
    {
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        if field.file_name().is_some() {
            map.insert(name, Value::Null);
            continue;
        }
        let bytes = field.bytes().await.map_err(|e| invalid(e.into()))?;
        let text = String::from_utf8(bytes).map_err(|_| ParamsError::NotUtf8)?;
        map.insert(name, Value::String(text));
    }
    Ok(map)
}

/// The query string as params (the lowest-priority source).
pub fn query_params(req: &Request) -> Map<String, Value> {
    // A query that is not valid UTF-8 counts as no query params at all.
    req.uri()
        .query()
        .and_then(|q| parse_form(q.as_bytes()).ok())
        .unwrap_or_default()
}

/// Reads and parses the body (JSON object or form) over the query params.
pub async fn read_params(
    req: &Request,
    body: &mut RequestBody,
) -> Result<Map<String, Value>, ParamsError> {
    let limit = req.data::<BodyLimit>().copied().unwrap_or_default();
    let read = body
        .take()
        .map_err(|_| ParamsError::Unreadable)?
        .into_bytes_limit(limit.max_bytes);
    let bytes = tokio::time::timeout(limit.read_timeout, read)
        .await
        .map_err(|_| ParamsError::TimedOut)?
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => ParamsError::TooLarge,
            _ => ParamsError::Unreadable,
        })?;
    let mut params = query_params(req);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        drop_nul(&mut params);
        return Ok(params);
    }
    let content_type = req.content_type();
    let body_params = match body_kind(content_type) {
        Some(BodyKind::Json) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ParamsError::NotAnObject),
            Err(e) => {
                return Err(ParamsError::InvalidJson(
                    e.to_string().trim_end_matches('.').to_string(),
                ));
            }
        },
        Some(BodyKind::Form) => parse_form(&bytes)?,
        Some(BodyKind::Multipart) => parse_multipart(req, bytes).await?,
        None => return Err(ParamsError::UnsupportedType),
    };
    params.extend(body_params);
    drop_nul(&mut params);
    Ok(params)
}

/// No legitimate parameter contains a NUL character (PostgreSQL could not even store one):
/// such values count as absent, like arrays where a scalar belongs.
fn drop_nul(params: &mut Map<String, Value>) {
    params.retain(|k, v| !k.contains('\0') && !matches!(v, Value::String(s) if s.contains('\0')));
}

impl<'a, T: ParseFromJSON + ToJSON> ApiExtractor<'a> for Params<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(
                "Parameters as a JSON object, a form-urlencoded body or multipart/form-data \
                 (file parts count as no value); query parameters are merged under them. \
                 Unknown names are ignored.",
            ),
            content: vec![
                MetaMediaType {
                    content_type: "application/json",
                    schema: T::schema_ref(),
                },
                MetaMediaType {
                    content_type: "application/x-www-form-urlencoded",
                    schema: T::schema_ref(),
                },
                MetaMediaType {
                    content_type: "multipart/form-data",
                    schema: T::schema_ref(),
                },
            ],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let raw = read_params(request, body).await?;
        let typed = T::parse_from_json(Some(Value::Object(raw.clone())))
            .map_err(|e: ParseError<T>| ParamsError::Invalid(e.into_message()))?;
        Ok(Params { typed, raw })
    }
}

/// The same parameters from the query string alone, for `GET` operations: the document lists
/// them as query parameters (one object in OpenAPI's default `form` style, each property its
/// own `name=value`) rather than as a body a `GET` should not have.
pub struct QueryParams<T>(pub Params<T>);

impl<'a, T: ParseFromJSON + ToJSON> ApiExtractor<'a> for QueryParams<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Query)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(T::schema_ref())
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let mut raw = query_params(request);
        drop_nul(&mut raw);
        let typed = T::parse_from_json(Some(Value::Object(raw.clone())))
            .map_err(|e: ParseError<T>| ParamsError::Invalid(e.into_message()))?;
        Ok(QueryParams(Params { typed, raw }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_plus_and_percent() {
        let map = parse_form(b"email=a%2Bb%40x.com&name=Ann+Lee&empty=&flag").unwrap();
        assert_eq!(map["email"], "a+b@x.com");
        assert_eq!(map["name"], "Ann Lee");
        assert_eq!(map["empty"], "");
        assert_eq!(map["flag"], "");
    }

    #[test]
    fn form_bodies_that_are_not_utf8_are_refused() {
        assert!(parse_form(b"email=%FF%FE").is_err());
    }

    #[test]
    fn scalars_follow_rails() {
        assert_eq!(scalar(&serde_json::json!(12)), Some("12".into()));
        assert_eq!(scalar(&serde_json::json!(["x"])), None);
        assert_eq!(scalar(&serde_json::json!(null)), None);
        assert_eq!(
            Param::<false, false>::parse_from_json(Some(serde_json::json!({"a": 1}))).unwrap(),
            Param(None)
        );
        assert_eq!(RequiredParam::parse_from_json(None).unwrap(), Param(None));
    }
}
