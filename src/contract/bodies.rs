//! devise_token_auth's response bodies (docs/contract.md §2.0.4–2.0.5) as OpenAPI types: the user JSON,
//! the validation-error map and the seven error shapes E1–E7. Each shape is defined once here.

use std::borrow::Cow;

use poem::{Response, http::StatusCode};
use poem_openapi::{
    Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::{Map, Value};

/// Implements the poem-openapi type traits for a newtype over a JSON object whose schema is
/// written by hand (its keys depend on settings, so no derive can describe it).
macro_rules! json_object_type {
    ($ty:ident, $name:literal, $schema:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($name.to_string())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>($name.to_string(), |_| $schema);
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::Object(map)) => Ok($ty(map)),
                    other => Err(poem_openapi::types::ParseError::expected_type(
                        other.unwrap_or_default(),
                    )),
                }
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::Object(self.0.clone()))
            }
        }
    };
}

/// The serialized user: every users column but Devise's secret ones, plus the app's extra
/// attributes. `created_at`/`updated_at` are left out by sign-in and validate_token (U-lite).
#[derive(Debug, Clone, PartialEq)]
pub struct UserJson(pub Map<String, Value>);

/// The user JSON's schema; an unsaved user (sign-up refused) has `null` for `id` and for both
/// timestamps.
fn user_schema(unsaved: bool) -> MetaSchema {
    let string = || String::schema_ref();
    let inline = |schema: MetaSchema| MetaSchemaRef::Inline(Box::new(schema));
    let nullable = |mut schema: MetaSchema| {
        schema.nullable = true;
        schema
    };
    let mut id = MetaSchema::new_with_format("integer", "int64");
    let mut timestamp = MetaSchema::new_with_format("string", "date-time");
    if unsaved {
        id = nullable(id);
        id.description = Some("Always `null`: the user was not saved.");
        timestamp = nullable(timestamp);
        timestamp.description = Some("Always `null`: the user was not saved.");
    } else {
        timestamp.description =
            Some("ISO-8601 UTC with milliseconds; absent in sign-in and validate_token answers");
    }
    MetaSchema {
        description: Some(if unsaved {
            "The user a refused sign-up would have created, with what was sent."
        } else {
            "A user: every column but the secret ones. Extra attributes permitted by \
             `sign_up_attributes` / `account_update_attributes` appear as further keys."
        }),
        properties: vec![
            ("id", inline(id)),
            ("provider", string()),
            ("uid", string()),
            ("allow_password_change", bool::schema_ref()),
            ("name", inline(nullable(MetaSchema::new("string")))),
            ("nickname", inline(nullable(MetaSchema::new("string")))),
            ("image", inline(nullable(MetaSchema::new("string")))),
            ("email", inline(nullable(MetaSchema::new("string")))),
            ("created_at", inline(timestamp.clone())),
            ("updated_at", inline(timestamp)),
        ],
        required: vec!["id", "provider", "uid", "allow_password_change"],
        additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
        ..MetaSchema::new("object")
    }
}

json_object_type!(UserJson, "User", user_schema(false));

/// The user a refused sign-up would have created (E3, E4).
#[derive(Debug, Clone, PartialEq)]
pub struct UnsavedUser(pub Map<String, Value>);

json_object_type!(UnsavedUser, "UnsavedUser", user_schema(true));

/// E3's `data`: the unsaved user, or `null` where there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsavedUserOrNull(pub Option<UnsavedUser>);

impl Type for UnsavedUserOrNull {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "UnsavedUserOrNull".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            all_of: vec![UnsavedUser::schema_ref()],
            nullable: true,
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        UnsavedUser::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for UnsavedUserOrNull {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(UnsavedUserOrNull(None)),
            other => UnsavedUser::parse_from_json(other)
                .map(|u| UnsavedUserOrNull(Some(u)))
                .map_err(poem_openapi::types::ParseError::propagate),
        }
    }
}

impl ToJSON for UnsavedUserOrNull {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .map_or(Value::Null, |u| Value::Object(u.0.clone())),
        )
    }
}

/// `{"<attribute>": ["<message>", …], …, "full_messages": ["<Attribute message>", …]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationErrors(pub Map<String, Value>);

json_object_type!(ValidationErrors, "ValidationErrors", {
    MetaSchema {
        description: Some(
            "Messages per attribute in validation order, and `full_messages` with the \
             humanized attribute names.",
        ),
        properties: vec![("full_messages", Vec::<String>::schema_ref())],
        required: vec!["full_messages"],
        additional_properties: Some(Box::new(Vec::<String>::schema_ref())),
        ..MetaSchema::new("object")
    }
});

/// E1: `{"success":false,"errors":["…"]}`.
#[derive(Debug, Object)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    pub errors: Vec<String>,
}

impl ErrorBody {
    pub fn new(message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            success: false,
            errors: vec![message.into()],
        }
    }
}

/// E2: E1 plus `"status":"error"`.
#[derive(Debug, Object)]
pub struct StatusErrorBody {
    /// Always `false`.
    pub success: bool,
    pub errors: Vec<String>,
    /// Always `"error"`.
    pub status: String,
}

impl StatusErrorBody {
    pub fn new(message: impl Into<String>) -> StatusErrorBody {
        StatusErrorBody {
            success: false,
            errors: vec![message.into()],
            status: "error".into(),
        }
    }
}

/// E3: E2 plus `"data"`: the unsaved user, or `null`.
#[derive(Debug, Object)]
pub struct StatusErrorWithDataBody {
    /// Always `false`.
    pub success: bool,
    pub errors: Vec<String>,
    /// Always `"error"`.
    pub status: String,
    pub data: UnsavedUserOrNull,
}

impl StatusErrorWithDataBody {
    pub fn new(message: impl Into<String>, data: Option<UnsavedUser>) -> StatusErrorWithDataBody {
        StatusErrorWithDataBody {
            success: false,
            errors: vec![message.into()],
            status: "error".into(),
            data: UnsavedUserOrNull(data),
        }
    }
}

/// E4: `{"status":"error",["data":<unsaved user>,]"errors":{…}}`.
#[derive(Debug, Object)]
pub struct ValidationErrorBody {
    /// Always `"error"`.
    pub status: String,
    /// The unsaved user (sign-up only).
    #[oai(skip_serializing_if_is_none)]
    pub data: Option<UnsavedUser>,
    pub errors: ValidationErrors,
}

/// E5: `{"success":false,"errors":{…}}`.
#[derive(Debug, Object)]
pub struct SuccessValidationErrorBody {
    /// Always `false`.
    pub success: bool,
    pub errors: ValidationErrors,
}

/// E7: `{"errors":["You need to sign in or sign up before continuing."]}`.
#[derive(Debug, Object)]
pub struct UnauthenticatedBody {
    pub errors: Vec<String>,
}

impl UnauthenticatedBody {
    /// With Devise's `unauthenticated` message, in the reader's language.
    pub fn new(message: String) -> UnauthenticatedBody {
        UnauthenticatedBody {
            errors: vec![message],
        }
    }
}

/// `{"status":"success","data":<user>}` (sign-up, account update).
#[derive(Debug, Object)]
pub struct StatusDataBody {
    /// Always `"success"`.
    pub status: String,
    pub data: UserJson,
}

impl StatusDataBody {
    pub fn new(data: UserJson) -> StatusDataBody {
        StatusDataBody {
            status: "success".into(),
            data,
        }
    }
}

/// `{"data":<user>}` (sign-in, the sample resource).
#[derive(Debug, Object)]
pub struct DataBody {
    pub data: UserJson,
}

/// `{"success":true,"data":<user>}` (validate_token).
#[derive(Debug, Object)]
pub struct SuccessDataBody {
    /// Always `true`.
    pub success: bool,
    pub data: UserJson,
}

/// `{"success":true}` (sign-out).
#[derive(Debug, Object)]
pub struct SuccessBody {
    /// Always `true`.
    pub success: bool,
}

/// `{"status":"success","message":"…"}` (account deletion).
#[derive(Debug, Object)]
pub struct StatusMessageBody {
    /// Always `"success"`.
    pub status: String,
    pub message: String,
}

/// `{"success":true,"message":"…"}` (mail requests).
#[derive(Debug, Object)]
pub struct SuccessMessageBody {
    /// Always `true`.
    pub success: bool,
    pub message: String,
}

/// `{"success":true,"data":<user>,"message":"…"}` (password update).
#[derive(Debug, Object)]
pub struct SuccessUserMessageBody {
    /// Always `true`.
    pub success: bool,
    pub data: UserJson,
    pub message: String,
}

/// E1 as a finished response with the contract's content type, for answers built outside an
/// OpenAPI operation (middlewares, framework errors).
pub fn error_response(status: StatusCode, message: &str) -> Response {
    super::shapes::ErrorShape::Success.response(status, message)
}
