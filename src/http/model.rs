//! The objects and request bodies of the Clerk Backend API subset, with their validation.
//!
//! Field names are exactly Clerk's (`clerk-bapi.md`, "Objects" and "Endpoints"); timestamps
//! are integers, milliseconds since the Unix epoch. Request bodies are validated field by
//! field (not with `deny_unknown_fields`) so that every rejected field is reported with its
//! name in `meta.param_name`, all at once.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{AppError, ParamError, ParamErrorKind};

/// A metadata object (`public_metadata`, `private_metadata`): always a JSON object. With the
/// `http` feature serde_json keeps key order and number literals, so a stored object comes back
/// exactly as it was written.
pub type Metadata = Map<String, Value>;

/// The `object` discriminator of an [`Organization`]: always `"organization"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationObject {
    /// `"organization"`.
    #[default]
    Organization,
}

/// The `object` discriminator of an [`OrganizationMembership`]: always
/// `"organization_membership"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationMembershipObject {
    /// `"organization_membership"`.
    #[default]
    OrganizationMembership,
}

/// Clerk's Organization object.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Organization {
    /// Always `"organization"`.
    pub object: OrganizationObject,
    /// `org_` followed by 27 base62 characters.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Lowercase letters, digits and `-`; derived from the name when not given.
    pub slug: String,
    /// Always empty: metamerge stores no images.
    pub image_url: String,
    /// Always `false`.
    pub has_image: bool,
    /// Number of memberships.
    pub members_count: i64,
    /// Maximum number of memberships, `0` = unlimited.
    pub max_allowed_memberships: i64,
    /// Always `true`: organizations can be deleted through the API.
    pub admin_delete_enabled: bool,
    /// Public metadata (a JSON object).
    #[schema(value_type = Object)]
    pub public_metadata: Metadata,
    /// Private metadata (a JSON object).
    #[schema(value_type = Object)]
    pub private_metadata: Metadata,
    /// The user ID given at creation, or `null`.
    pub created_by: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// A membership as the store keeps it; the API object is [`OrganizationMembership`].
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipRecord {
    /// `orgmem_` followed by 27 base62 characters.
    pub id: String,
    /// The member's user ID (given by the caller).
    pub user_id: String,
    /// The role key, e.g. `org:admin`.
    pub role: String,
    /// Public metadata.
    pub public_metadata: Metadata,
    /// Private metadata.
    pub private_metadata: Metadata,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// The `public_user_data` of a membership. metamerge does not manage users: names are `null`,
/// images empty and `identifier` is the user ID (ours).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PublicUserData {
    /// The user ID.
    pub user_id: String,
    /// Always `null`.
    pub first_name: Option<String>,
    /// Always `null`.
    pub last_name: Option<String>,
    /// Always empty.
    pub image_url: String,
    /// Always empty.
    pub profile_image_url: String,
    /// Always `false`.
    pub has_image: bool,
    /// The user ID.
    pub identifier: String,
}

/// Clerk's OrganizationMembership object.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrganizationMembership {
    /// Always `"organization_membership"`.
    pub object: OrganizationMembershipObject,
    /// `orgmem_` followed by 27 base62 characters.
    pub id: String,
    /// The role key, e.g. `org:admin`, `org:member`.
    pub role: String,
    /// The role's display name, e.g. `Admin`, `Member`.
    pub role_name: String,
    /// The role's system permissions (ours: `org:admin` gets the six `org:sys_*` permissions,
    /// `org:member` gets `org:sys_memberships:read`, other roles none).
    pub permissions: Vec<String>,
    /// Public metadata (a JSON object).
    #[schema(value_type = Object)]
    pub public_metadata: Metadata,
    /// Private metadata (a JSON object).
    #[schema(value_type = Object)]
    pub private_metadata: Metadata,
    /// The whole organization.
    pub organization: Organization,
    /// What is public about the user.
    pub public_user_data: PublicUserData,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

impl OrganizationMembership {
    /// The API object for a stored membership of `organization`.
    pub fn new(record: MembershipRecord, organization: Organization) -> Self {
        OrganizationMembership {
            object: OrganizationMembershipObject::OrganizationMembership,
            role_name: role_name(&record.role),
            permissions: permissions(&record.role),
            public_user_data: PublicUserData {
                identifier: record.user_id.clone(),
                user_id: record.user_id,
                first_name: None,
                last_name: None,
                image_url: String::new(),
                profile_image_url: String::new(),
                has_image: false,
            },
            id: record.id,
            role: record.role,
            public_metadata: record.public_metadata,
            private_metadata: record.private_metadata,
            organization,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// `org:admin` → `Admin`, `org:member` → `Member`, `org:billing_manager` → `Billing manager`.
fn role_name(role: &str) -> String {
    let key = role.rsplit(':').next().unwrap_or(role).replace('_', " ");
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn permissions(role: &str) -> Vec<String> {
    let list: &[&str] = match role {
        "org:admin" => &[
            "org:sys_profile:manage",
            "org:sys_profile:delete",
            "org:sys_memberships:read",
            "org:sys_memberships:manage",
            "org:sys_domains:read",
            "org:sys_domains:manage",
        ],
        "org:member" => &["org:sys_memberships:read"],
        _ => &[],
    };
    list.iter().map(|p| (*p).to_owned()).collect()
}

/// The body of `DELETE /v1/organizations/{organization_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeletedObject {
    /// Always `"organization"`.
    pub object: OrganizationObject,
    /// The deleted organization's ID.
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

/// The body of `GET /v1/organizations/{organization_id}/memberships`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrganizationMemberships {
    /// The requested page.
    pub data: Vec<OrganizationMembership>,
    /// Number of memberships matching the filters, over all pages.
    pub total_count: i64,
}

/// `GET /healthz` body: `{"status":"ok"}` (200), or when the store does not answer (503)
/// `{"status":"unavailable","store":"postgres","error":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Health {
    /// `"ok"` or `"unavailable"`.
    pub status: String,
    /// The store engine (`"sqlite"`, `"postgres"`), only when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Why the store does not answer (no password in it), only when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

/// A request body that is validated from a JSON object, field by field.
pub trait FromJsonBody: Sized {
    /// Builds the body from the top-level object, or returns every field error
    /// (`AppError::Params`).
    fn from_object(fields: Fields) -> Result<Self, AppError>;
}

/// The fields of a JSON body object being validated: each accessor removes its field and
/// records an error if it is missing or of the wrong type; [`Fields::finish`] reports any
/// field left over as unknown.
pub struct Fields {
    map: Map<String, Value>,
    errors: Vec<ParamError>,
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Fields {
    /// Starts validating `map`.
    pub fn new(map: Map<String, Value>) -> Self {
        Fields {
            map,
            errors: Vec::new(),
        }
    }

    fn invalid(&mut self, name: &str, detail: String) {
        self.errors
            .push(ParamError::new(ParamErrorKind::ValueInvalid, name, detail));
    }

    /// `s` if it has no NUL character (`\u0000`), which PostgreSQL cannot store in text (it
    /// answered 500); refused on both stores so that they behave the same.
    fn nul_free(&mut self, name: &str, s: String) -> Option<String> {
        if s.contains('\0') {
            self.invalid(
                name,
                format!("{name} must not contain the NUL character (\\u0000)"),
            );
            None
        } else {
            Some(s)
        }
    }

    /// A required, non-empty string without NUL characters.
    pub fn required_string(&mut self, name: &str) -> Option<String> {
        match self.map.remove(name) {
            None => {
                self.errors.push(ParamError::new(
                    ParamErrorKind::Missing,
                    name,
                    format!("{name} must be included"),
                ));
                None
            }
            Some(Value::String(s)) if s.is_empty() => {
                self.invalid(name, format!("{name} must not be empty"));
                None
            }
            Some(Value::String(s)) => self.nul_free(name, s),
            Some(other) => {
                let detail = format!("{name} must be a string, got {}", kind_of(&other));
                self.invalid(name, detail);
                None
            }
        }
    }

    /// An optional string without NUL characters; `null` counts as absent.
    pub fn optional_string(&mut self, name: &str) -> Option<String> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => self.nul_free(name, s),
            Some(other) => {
                let detail = format!("{name} must be a string, got {}", kind_of(&other));
                self.invalid(name, detail);
                None
            }
        }
    }

    /// An optional integer in `min..=i64::MAX`; `null` counts as absent.
    pub fn optional_integer(&mut self, name: &str, min: i64) -> Option<i64> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            // An integral number written with a fraction or exponent (`3.0`, `1e2`) is an
            // integer in JSON Schema's sense, so it is accepted (schemathesis found it rejected).
            Some(Value::Number(n)) => match n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            }) {
                Some(i) if i >= min => Some(i),
                _ => {
                    self.invalid(
                        name,
                        format!("{name} must be an integer of at least {min}, got {n}"),
                    );
                    None
                }
            },
            Some(other) => {
                let detail = format!("{name} must be an integer, got {}", kind_of(&other));
                self.invalid(name, detail);
                None
            }
        }
    }

    /// An optional metadata object. `null` is accepted as "empty" only where Clerk documents it
    /// (`null_is_empty`, at creation); in a metadata PATCH it is rejected, because a merge
    /// patch of `null` would replace the whole object (ours).
    pub fn optional_metadata(&mut self, name: &str, null_is_empty: bool) -> Option<Metadata> {
        match self.map.remove(name) {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(Value::Null) if null_is_empty => Some(Map::new()),
            Some(other) => {
                let detail = format!("{name} must be a JSON object, got {}", kind_of(&other));
                self.invalid(name, detail);
                None
            }
        }
    }

    /// Reports fields left over as unknown; returns `value` if no field was rejected.
    pub fn finish<T>(mut self, value: impl FnOnce() -> Option<T>) -> Result<T, AppError> {
        for name in self.map.keys() {
            self.errors.push(ParamError::new(
                ParamErrorKind::Unknown,
                name.clone(),
                format!("{name} is not a valid parameter for this request"),
            ));
        }
        if !self.errors.is_empty() {
            return Err(AppError::Params(self.errors));
        }
        // Every accessor that yields `None` for a required field records an error, so this is
        // `Some` whenever no error was recorded.
        value().ok_or_else(|| AppError::Internal("body validation yielded no value".to_owned()))
    }
}

/// Body of `POST /v1/organizations`.
#[derive(Debug, Clone, PartialEq, ToSchema)]
// Unknown fields are rejected (422 `form_param_unknown`); this tells the OpenAPI schema.
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// Display name (required, non-empty, no NUL character).
    #[schema(min_length = 1, pattern = "^[^\\u0000]*$")]
    pub name: String,
    /// Lowercase letters, digits and `-`; derived from `name` when absent.
    #[schema(min_length = 1, pattern = "^[a-z0-9-]+$")]
    pub slug: Option<String>,
    /// The creating user's ID (no NUL character).
    #[schema(pattern = "^[^\\u0000]*$")]
    pub created_by: Option<String>,
    /// Maximum number of memberships, `0` (default) = unlimited.
    #[schema(minimum = 0)]
    pub max_allowed_memberships: Option<i64>,
    /// Initial public metadata (object; `null` = `{}`).
    #[schema(value_type = Option<Object>)]
    pub public_metadata: Option<Metadata>,
    /// Initial private metadata (object; `null` = `{}`).
    #[schema(value_type = Option<Object>)]
    pub private_metadata: Option<Metadata>,
}

impl FromJsonBody for CreateOrganizationRequest {
    fn from_object(mut f: Fields) -> Result<Self, AppError> {
        let name = f.required_string("name");
        let slug = f.optional_string("slug");
        if let Some(slug) = &slug {
            if slug.is_empty()
                || !slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                f.invalid(
                    "slug",
                    "slug must be non-empty and contain only lowercase letters, digits and `-`"
                        .to_owned(),
                );
            }
        }
        let created_by = f.optional_string("created_by");
        let max_allowed_memberships = f.optional_integer("max_allowed_memberships", 0);
        let public_metadata = f.optional_metadata("public_metadata", true);
        let private_metadata = f.optional_metadata("private_metadata", true);
        f.finish(|| {
            Some(CreateOrganizationRequest {
                name: name?,
                slug,
                created_by,
                max_allowed_memberships,
                public_metadata,
                private_metadata,
            })
        })
    }
}

/// Longest `user_id` accepted, in characters (at most 2,048 bytes of UTF-8): the user ID is
/// part of a unique index, and PostgreSQL refuses index entries over 2,704 bytes (a longer
/// one answered 500 there).
pub const MAX_USER_ID_CHARS: usize = 512;

/// Body of `POST /v1/organizations/{organization_id}/memberships`.
#[derive(Debug, Clone, PartialEq, ToSchema)]
// Unknown fields are rejected (422 `form_param_unknown`); this tells the OpenAPI schema.
#[serde(deny_unknown_fields)]
pub struct CreateMembershipRequest {
    /// The user to add (required, non-empty, at most [`MAX_USER_ID_CHARS`] characters, no NUL
    /// character).
    #[schema(min_length = 1, max_length = 512, pattern = "^[^\\u0000]*$")]
    pub user_id: String,
    /// The role key, e.g. `org:admin` (required, non-empty, no NUL character).
    #[schema(min_length = 1, pattern = "^[^\\u0000]*$")]
    pub role: String,
    /// Initial public metadata (object; `null` = `{}`).
    #[schema(value_type = Option<Object>)]
    pub public_metadata: Option<Metadata>,
    /// Initial private metadata (object; `null` = `{}`).
    #[schema(value_type = Option<Object>)]
    pub private_metadata: Option<Metadata>,
}

impl FromJsonBody for CreateMembershipRequest {
    fn from_object(mut f: Fields) -> Result<Self, AppError> {
        let mut user_id = f.required_string("user_id");
        if user_id
            .as_ref()
            .is_some_and(|u| u.chars().count() > MAX_USER_ID_CHARS)
        {
            f.invalid(
                "user_id",
                format!("user_id must be at most {MAX_USER_ID_CHARS} characters"),
            );
            user_id = None;
        }
        let role = f.required_string("role");
        let public_metadata = f.optional_metadata("public_metadata", true);
        let private_metadata = f.optional_metadata("private_metadata", true);
        f.finish(|| {
            Some(CreateMembershipRequest {
                user_id: user_id?,
                role: role?,
                public_metadata,
                private_metadata,
            })
        })
    }
}

/// Body of `PATCH /v1/organizations/{organization_id}/memberships/{user_id}`.
#[derive(Debug, Clone, PartialEq, ToSchema)]
// Unknown fields are rejected (422 `form_param_unknown`); this tells the OpenAPI schema.
#[serde(deny_unknown_fields)]
pub struct UpdateMembershipRequest {
    /// The new role key (required, non-empty, no NUL character).
    #[schema(min_length = 1, pattern = "^[^\\u0000]*$")]
    pub role: String,
}

impl FromJsonBody for UpdateMembershipRequest {
    fn from_object(mut f: Fields) -> Result<Self, AppError> {
        let role = f.required_string("role");
        f.finish(|| Some(UpdateMembershipRequest { role: role? }))
    }
}

/// Body of the two metadata PATCH endpoints: a merge patch per metadata field.
///
/// Each present field must be a JSON object and is merged into the stored object with the
/// RFC 7396 rule: nested objects merge recursively, `null` removes a key at any level, anything
/// else (arrays included) replaces. An absent field leaves the stored object untouched; `{}`
/// changes nothing. The body is applied straight from its bytes, while it is parsed
/// ([`MetadataPatch::apply_body`], with [`crate::merge_slice`]); this type describes it in the
/// OpenAPI document.
#[derive(Debug, Clone, PartialEq, Default, ToSchema)]
// Unknown fields are rejected (422 `form_param_unknown`); this tells the OpenAPI schema.
#[serde(deny_unknown_fields)]
pub struct MetadataPatch {
    /// Merge patch for `public_metadata` (an object; `null` is rejected).
    #[schema(value_type = Object, required = false)]
    pub public_metadata: Option<Metadata>,
    /// Merge patch for `private_metadata` (an object; `null` is rejected).
    #[schema(value_type = Object, required = false)]
    pub private_metadata: Option<Metadata>,
}

/// The fields of a metadata PATCH body, in the order their errors are reported.
const METADATA_FIELDS: [&str; 2] = ["public_metadata", "private_metadata"];

impl MetadataPatch {
    /// Applies a metadata PATCH body, as raw bytes, to the stored `public` and `private`
    /// metadata, and checks the result.
    ///
    /// The body is merged with [`crate::merge_slice`] (RFC 7396 section 2, applied while it is
    /// parsed, no patch tree built) into `{"public_metadata": public, "private_metadata":
    /// private}`, the stored objects moved in and back out, never copied. An empty body (no
    /// bytes) counts as `{}`; whitespace alone is invalid JSON. Then, as the body's fields are validated:
    ///
    /// - not valid JSON: 400 `request_body_invalid`, the detail with serde_json's reason, line
    ///   and column;
    /// - a member name repeated within one object, anywhere in the body (I-JSON, RFC 7493
    ///   section 2.3; applying both in order would differ from parse-then-merge): 400
    ///   `request_body_invalid` naming the key, with line and column;
    /// - not a JSON object: 400 `request_body_invalid` saying what it is;
    /// - a metadata field that is not an object (`null` included): 422
    ///   `form_param_value_invalid`; a top-level field other than the two: 422
    ///   `form_param_unknown` (every such field is reported, in that order);
    /// - a merged object holding a member name serde_json reserves
    ///   (`$serde_json::private::Number` or `…::RawValue`, at any depth; a later removal of the
    ///   members before it would make the stored text unreadable), or nested more than
    ///   [`MAX_METADATA_DEPTH`] levels: 422 `form_param_value_invalid`; a merged object of more
    ///   than `max_bytes` bytes as compact JSON: 422 `form_param_exceeds_allowed_size` naming
    ///   the field (both checked for the fields the body has, each field reported once).
    ///
    /// On the 400s `public` and `private` are exactly as they were (`merge_slice` undoes what
    /// it applied), except for a body serde_json reads as a number (an object whose first
    /// member name is `$serde_json::private::Number`), which leaves them empty. On the 422s they
    /// hold the merged objects (`{}` for a field of the wrong type): callers run this inside
    /// the store's transaction, which is rolled back and the record discarded on error, so
    /// nothing is stored.
    ///
    /// Cost: one parse of the body, one map lookup per patch member (see
    /// [`crate::merge_slice`]), then one serialization of each patched object for the size
    /// check.
    pub fn apply_body(
        body: &[u8],
        public: &mut Metadata,
        private: &mut Metadata,
        max_bytes: usize,
    ) -> Result<(), AppError> {
        // Only a body of no bytes is empty: whitespace alone is not a JSON text (RFC 8259
        // section 2; schemathesis found a form feed taken as an empty body).
        let body: &[u8] = if body.is_empty() { b"{}" } else { body };
        let starts_an_object = body
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            == Some(&b'{');
        if !starts_an_object {
            // Not an object, or not JSON at all: nothing is merged, only reported.
            let mut value = Value::Null;
            crate::merge_slice(&mut value, body).map_err(body_error)?;
            return Err(AppError::BodyInvalid(format!(
                "the body must be a JSON object, got {}",
                kind_of(&value)
            )));
        }

        let mut wrapper = Map::new();
        wrapper.insert(
            METADATA_FIELDS[0].to_owned(),
            Value::Object(std::mem::take(public)),
        );
        wrapper.insert(
            METADATA_FIELDS[1].to_owned(),
            Value::Object(std::mem::take(private)),
        );
        let mut wrapper = Value::Object(wrapper);
        let merged = crate::stream::merge_slice_top_level(&mut wrapper, body);
        // An object patch (the body starts with `{`) keeps the wrapper an object, and on error
        // `merge_slice` left it exactly as it was; except that serde_json, under
        // `arbitrary_precision`, reads an object whose first member name is its private number
        // marker as a number (as `from_slice` does), which replaces the wrapper (this was a
        // panic, answered 500).
        let mut wrapper = match wrapper {
            Value::Object(wrapper) => wrapper,
            other => {
                return Err(AppError::BodyInvalid(format!(
                    "the body must be a JSON object, got {} (serde_json reads an object whose \
                     first member name is `{NUMBER_MARKER}` as a number)",
                    kind_of(&other)
                )))
            }
        };
        let fields = METADATA_FIELDS.map(|name| wrapper.remove(name));
        let mut errors = Vec::new();
        let [public_field, private_field] = fields;
        for (name, target, field) in [
            (METADATA_FIELDS[0], &mut *public, public_field),
            (METADATA_FIELDS[1], &mut *private, private_field),
        ] {
            match field {
                Some(Value::Object(object)) => *target = object,
                other if merged.is_ok() => {
                    let kind = other.as_ref().map_or("null", kind_of);
                    errors.push(ParamError::new(
                        ParamErrorKind::ValueInvalid,
                        name,
                        format!("{name} must be a JSON object, got {kind}"),
                    ));
                }
                _ => unreachable!("the stored metadata objects are restored on error"),
            }
        }
        let names = merged.map_err(body_error)?;
        for name in names
            .iter()
            .filter(|n| !METADATA_FIELDS.contains(&n.as_str()))
        {
            errors.push(ParamError::new(
                ParamErrorKind::Unknown,
                name.clone(),
                format!("{name} is not a valid parameter for this request"),
            ));
        }
        if errors.is_empty() {
            for (name, target) in [
                (METADATA_FIELDS[0], &*public),
                (METADATA_FIELDS[1], &*private),
            ] {
                if names.iter().any(|n| n == name) {
                    if let Err(e) = check_metadata(name, target, max_bytes) {
                        errors.push(e);
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Params(errors))
        }
    }

    /// Checks a metadata PATCH body as [`MetadataPatch::apply_body`] does, against empty
    /// metadata and without the size limit: the 400s and 422s a body earns whatever is stored.
    /// Used when the organization or membership does not exist, so that a bad body is reported
    /// before the 404, as when the body was parsed before the lookup.
    pub fn check_body(body: &[u8]) -> Result<(), AppError> {
        Self::apply_body(body, &mut Map::new(), &mut Map::new(), usize::MAX)
    }
}

/// The 400 for a body that [`crate::merge_slice`] rejected.
fn body_error(e: crate::Error) -> AppError {
    let message = located_message(&e);
    AppError::BodyInvalid(match e.kind() {
        crate::ErrorKind::DuplicateKey => format!("the body is not a valid merge patch: {message}"),
        _ => format!("the body is not valid JSON: {message}"),
    })
}

/// serde_json's message for `e`, which ends `at line L column C`, except that column 0 (nothing
/// read yet on that line: a body ending with a newline) is said as column 1, where the missing
/// text would start, as the CLI says it.
pub(crate) fn located_message(e: &crate::Error) -> String {
    let (line, column) = (e.line(), e.column());
    let message = e.to_string();
    match message.strip_suffix(&format!(" at line {line} column {column}")) {
        Some(reason) => format!("{reason} at line {line} column {}", column.max(1)),
        None => message,
    }
}

/// Size of `metadata` as compact JSON, in bytes.
pub fn compact_len(metadata: &Metadata) -> usize {
    serde_json::to_vec(metadata)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

/// The member name serde_json (under `arbitrary_precision`) reads, as the first member of an
/// object, as a number: metadata holding it (or the other [`crate::RESERVED_MEMBER_NAMES`])
/// could be stored, but a later removal of the members before it made the stored text
/// unreadable (every read of the row answered 500), so they are refused anywhere.
const NUMBER_MARKER: &str = crate::RESERVED_MEMBER_NAMES[0];

/// Deepest nesting of stored metadata, counting the metadata object itself as level 1.
/// Answers embed metadata up to 5 levels down (a list of memberships embeds each one's
/// organization), and serde_json, the parser of this server and of most clients, refuses
/// input nested more than 128 levels; 100 leaves room for that.
pub const MAX_METADATA_DEPTH: usize = 100;

/// What is wrong with the shape of a metadata object, if anything.
enum ShapeProblem {
    /// Nested more than [`MAX_METADATA_DEPTH`] levels.
    TooDeep,
    /// The first reserved member name ([`crate::RESERVED_MEMBER_NAMES`]) at any depth, the
    /// object's own members first.
    Reserved(&'static str),
}

/// Checks depth and member names in one iterative walk, one visit per value (the object
/// itself is level 1). Too deep wins over a reserved name.
fn shape_problem(metadata: &Metadata) -> Option<ShapeProblem> {
    let mut reserved = crate::tree::reserved_in(metadata);
    let mut stack: Vec<(&Value, usize)> = metadata.values().map(|v| (v, 2)).collect();
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Object(_) | Value::Array(_) if depth > MAX_METADATA_DEPTH => {
                return Some(ShapeProblem::TooDeep)
            }
            Value::Object(object) => {
                reserved = reserved.or_else(|| crate::tree::reserved_in(object));
                stack.extend(object.values().map(|child| (child, depth + 1)));
            }
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    reserved.map(ShapeProblem::Reserved)
}

/// Checks a merged or initial metadata object: no reserved member name
/// ([`crate::RESERVED_MEMBER_NAMES`], 422 `form_param_value_invalid`), nested at most
/// [`MAX_METADATA_DEPTH`] levels (422 `form_param_value_invalid`), at most `max_bytes` bytes as
/// compact JSON (422 `form_param_exceeds_allowed_size`).
fn check_metadata(name: &str, metadata: &Metadata, max_bytes: usize) -> Result<(), ParamError> {
    match shape_problem(metadata) {
        Some(ShapeProblem::TooDeep) => {
            return Err(ParamError::new(
                ParamErrorKind::ValueInvalid,
                name,
                format!(
                    "{name} must not be nested more than {MAX_METADATA_DEPTH} levels deep \
                     (answers that embed it must stay within JSON parsers' depth limits)"
                ),
            ))
        }
        Some(ShapeProblem::Reserved(reserved)) => {
            return Err(ParamError::new(
                ParamErrorKind::ValueInvalid,
                name,
                format!(
                    "{name} must not use the member name `{reserved}`, reserved by the JSON \
                     library"
                ),
            ))
        }
        None => {}
    }
    let len = compact_len(metadata);
    if len > max_bytes {
        Err(ParamError::new(
            ParamErrorKind::ExceedsAllowedSize,
            name,
            format!("{name} would be {len} bytes as compact JSON, more than the limit of {max_bytes} bytes"),
        ))
    } else {
        Ok(())
    }
}

/// The initial metadata of a create body: an absent field is `{}`; each is checked as a
/// metadata PATCH checks its result (reserved member names, depth, size): 422
/// `form_param_value_invalid` or `form_param_exceeds_allowed_size` per field.
pub fn initial_metadata(
    public: Option<Metadata>,
    private: Option<Metadata>,
    max_bytes: usize,
) -> Result<(Metadata, Metadata), AppError> {
    let (public, private) = (public.unwrap_or_default(), private.unwrap_or_default());
    let errors: Vec<ParamError> = [("public_metadata", &public), ("private_metadata", &private)]
        .into_iter()
        .filter_map(|(name, m)| check_metadata(name, m, max_bytes).err())
        .collect();
    if errors.is_empty() {
        Ok((public, private))
    } else {
        Err(AppError::Params(errors))
    }
}

/// A slug from a name: ASCII letters and digits lowercased, runs of anything else become one
/// `-`, no leading or trailing `-`. May be empty.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

// ---------------------------------------------------------------------------------------------
// List query
// ---------------------------------------------------------------------------------------------

/// Sort order of the membership list, by creation time (ties by insertion order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// `created_at` or `+created_at`: oldest first.
    CreatedAtAscending,
    /// `-created_at` (default): newest first.
    #[default]
    CreatedAtDescending,
}

/// The query of `GET /v1/organizations/{organization_id}/memberships`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMembershipsQuery {
    /// Page size, 1–500, default 10.
    pub limit: u32,
    /// Number of memberships to skip, default 0.
    pub offset: u64,
    /// Sort order, default newest first.
    pub order: Order,
    /// Only these users (repeatable `user_id`); empty = all.
    pub user_ids: Vec<String>,
    /// Only these roles (repeatable `role`); empty = all.
    pub roles: Vec<String>,
}

impl Default for ListMembershipsQuery {
    fn default() -> Self {
        ListMembershipsQuery {
            limit: 10,
            offset: 0,
            order: Order::default(),
            user_ids: Vec::new(),
            roles: Vec::new(),
        }
    }
}

impl ListMembershipsQuery {
    /// Parses a raw query string (`limit=20&user_id=a&user_id=b`). Any parameter that cannot be
    /// parsed, is out of range, is repeated where it must not be, or is unknown is
    /// 400 `malformed_request_parameters` naming it in `meta.param_name`.
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        let mut query = ListMembershipsQuery::default();
        let mut seen = [false; 3];
        let bad = |param: &str, detail: String| AppError::QueryInvalid {
            param: param.to_owned(),
            detail,
        };
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let once = |seen: &mut [bool; 3], i: usize| {
                if std::mem::replace(&mut seen[i], true) {
                    Err(bad(&key, format!("{key} may be given only once")))
                } else {
                    Ok(())
                }
            };
            match &*key {
                "limit" => {
                    once(&mut seen, 0)?;
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|l| (1..=500).contains(l))
                        .ok_or_else(|| {
                            bad(
                                "limit",
                                format!("limit must be an integer from 1 to 500, got `{value}`"),
                            )
                        })?;
                }
                "offset" => {
                    once(&mut seen, 1)?;
                    // At most i64::MAX, the largest offset the store can express (schemathesis
                    // found 2^63 accepted although the schema says int64).
                    query.offset = value
                        .parse()
                        .ok()
                        .filter(|o| i64::try_from(*o).is_ok())
                        .ok_or_else(|| {
                            bad(
                                "offset",
                                format!(
                                    "offset must be an integer from 0 to {}, got `{value}`",
                                    i64::MAX
                                ),
                            )
                        })?;
                }
                "order_by" => {
                    once(&mut seen, 2)?;
                    query.order = match &*value {
                        "created_at" | "+created_at" => Order::CreatedAtAscending,
                        "-created_at" => Order::CreatedAtDescending,
                        _ => {
                            return Err(bad(
                                "order_by",
                                format!("order_by must be one of created_at, +created_at, -created_at, got `{value}`"),
                            ))
                        }
                    };
                }
                "user_id" => query.user_ids.push(value.into_owned()),
                "role" => query.roles.push(value.into_owned()),
                _ => {
                    return Err(bad(
                        &key,
                        format!("{key} is not a supported query parameter"),
                    ))
                }
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Metadata nested `depth` levels (the object itself is level 1), with `extra` members in
    /// the object itself.
    fn nested(depth: usize, extra: Value) -> Map<String, Value> {
        let mut value = json!(1);
        for _ in 1..depth {
            value = json!({ "a": value });
        }
        let mut object = obj(extra);
        object.insert("a".into(), value);
        object
    }

    #[test]
    fn shape_problem_checks_depth_and_reserved_names_in_one_walk() {
        let number = crate::RESERVED_MEMBER_NAMES[0];
        let raw = crate::RESERVED_MEMBER_NAMES[1];
        assert!(shape_problem(&nested(MAX_METADATA_DEPTH, json!({}))).is_none());
        assert!(matches!(
            shape_problem(&nested(MAX_METADATA_DEPTH + 1, json!({}))),
            Some(ShapeProblem::TooDeep)
        ));
        // Too deep wins over a reserved name, wherever it is.
        assert!(matches!(
            shape_problem(&nested(MAX_METADATA_DEPTH + 1, json!({ number: 1 }))),
            Some(ShapeProblem::TooDeep)
        ));
        // The object's own members first, then below.
        let both = obj(json!({ "x": { raw: 1 }, number: 2 }));
        assert!(matches!(shape_problem(&both), Some(ShapeProblem::Reserved(n)) if n == number));
        let below = obj(json!({ "x": [{ "y": { raw: 1 } }] }));
        assert!(matches!(shape_problem(&below), Some(ShapeProblem::Reserved(n)) if n == raw));
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn role_names() {
        assert_eq!(role_name("org:admin"), "Admin");
        assert_eq!(role_name("org:member"), "Member");
        assert_eq!(role_name("org:billing_manager"), "Billing manager");
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("  Acme, Inc. "), "acme-inc");
        assert_eq!(slugify("Ünïcode"), "n-code");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn metadata_patch_reports_every_bad_field() {
        // `"extra": null` leaves no trace in the merged wrapper but is still unknown.
        let body =
            br#"{"public_metadata": null, "private_metadata": [1], "extra": 1, "more": null}"#;
        let err = MetadataPatch::check_body(body).unwrap_err();
        let AppError::Params(errors) = err else {
            panic!("{err:?}")
        };
        let got: Vec<(ParamErrorKind, &str)> =
            errors.iter().map(|e| (e.kind, e.param.as_str())).collect();
        assert_eq!(
            got,
            [
                (ParamErrorKind::ValueInvalid, "public_metadata"),
                (ParamErrorKind::ValueInvalid, "private_metadata"),
                (ParamErrorKind::Unknown, "extra"),
                (ParamErrorKind::Unknown, "more"),
            ]
        );
        assert_eq!(
            errors[1].detail,
            "private_metadata must be a JSON object, got an array"
        );
        assert_eq!(
            errors[0].detail,
            "public_metadata must be a JSON object, got null"
        );
    }

    #[test]
    fn metadata_patch_merges_and_checks_size_after_the_merge() {
        let body = br#"{"public_metadata": {"a": {"b": null, "c": 2}, "big": null}}"#;
        let mut public = obj(json!({"a": {"b": 1}, "big": "xxxxxxxxxxxxxxxxxxxxxxxx"}));
        let mut private = obj(json!({"p": 1}));
        // Before the merge the object is over 20 bytes; after it, {"a":{"c":2}} is 13.
        MetadataPatch::apply_body(body, &mut public, &mut private, 20).unwrap();
        assert_eq!(Value::Object(public), json!({"a": {"c": 2}}));
        assert_eq!(Value::Object(private), json!({"p": 1}));
    }

    #[test]
    fn metadata_patch_body_errors_restore_the_stored_metadata() {
        let stored_public = obj(json!({"z": 1, "a": {"k": [1, 2]}, "m": "x"}));
        let stored_private = obj(json!({"secret": "s"}));
        for (body, needle) in [
            (
                &br#"{"public_metadata": {"z": null, "a": {"k": 3}}, "private_metadata": {"secret": null},"#[..],
                "EOF while parsing a value at line 1 column 85",
            ),
            (
                br#"{"public_metadata": {"z": null, "new": 1}, "private_metadata": {"x": 1, "x": 2}}"#,
                r#"duplicate key "x" in a merge patch object (RFC 7493 section 2.3) at line 1 column 75"#,
            ),
            (b"[1]", "must be a JSON object, got an array"),
            // Ends with a newline: serde_json's column 0 is said as column 1.
            (
                b"{\"public_metadata\": {\"z\": null}\n",
                "the body is not valid JSON: EOF while parsing an object at line 2 column 1",
            ),
        ] {
            let (mut public, mut private) = (stored_public.clone(), stored_private.clone());
            let err = MetadataPatch::apply_body(body, &mut public, &mut private, 1000).unwrap_err();
            let AppError::BodyInvalid(detail) = &err else {
                panic!("{err:?}")
            };
            assert!(detail.contains(needle), "{detail}");
            // Key order included.
            assert_eq!(
                serde_json::to_string(&public).unwrap(),
                serde_json::to_string(&stored_public).unwrap()
            );
            assert_eq!(private, stored_private);
        }
    }

    #[test]
    fn list_query_parsing() {
        let q = ListMembershipsQuery::parse(Some(
            "limit=2&offset=3&order_by=%2Bcreated_at&user_id=a&user_id=b&role=org%3Aadmin",
        ))
        .unwrap();
        assert_eq!(q.limit, 2);
        assert_eq!(q.offset, 3);
        assert_eq!(q.order, Order::CreatedAtAscending);
        assert_eq!(q.user_ids, ["a", "b"]);
        assert_eq!(q.roles, ["org:admin"]);
        for bad in [
            "limit=0",
            "limit=501",
            "limit=x",
            "offset=-1",
            "order_by=name",
            "limit=1&limit=2",
            "foo=1",
        ] {
            assert!(
                matches!(
                    ListMembershipsQuery::parse(Some(bad)),
                    Err(AppError::QueryInvalid { .. })
                ),
                "{bad}"
            );
        }
    }
}
