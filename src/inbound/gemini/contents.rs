//! `contents` and `systemInstruction` → chat messages: user and model
//! turns with their text, images, function calls and function responses.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::inbound::chat::request as hub;
use crate::inbound::Invalid;

#[derive(Deserialize)]
pub(super) struct Content<'a> {
    /// `user` (also when absent) or `model`.
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    parts: Option<Vec<Part<'a>>>,
}

/// One part: a protobuf `oneof`, so exactly one data field is set.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(borrow, default, alias = "inline_data")]
    inline_data: Option<Blob<'a>>,
    #[serde(borrow, default, alias = "file_data")]
    file_data: Option<FileData<'a>>,
    #[serde(borrow, default, alias = "function_call")]
    function_call: Option<FunctionCall<'a>>,
    #[serde(borrow, default, alias = "function_response")]
    function_response: Option<FunctionResponse<'a>>,
    #[serde(borrow, default, alias = "executable_code")]
    executable_code: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "code_execution_result")]
    code_execution_result: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "tool_call")]
    tool_call: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "tool_response")]
    tool_response: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    #[serde(borrow, default, alias = "mime_type")]
    mime_type: Option<Cow<'a, str>>,
    /// Base64, standard or URL-safe alphabet (protobuf JSON takes both).
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileData<'a> {
    #[serde(borrow, default, alias = "mime_type")]
    mime_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "file_uri")]
    file_uri: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FunctionResponse<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
    /// Media returned by the function (Gemini 3); the hub's tool messages
    /// carry text only.
    #[serde(borrow, default)]
    parts: Option<&'a RawValue>,
}

/// `systemInstruction`'s text: its text parts joined by newlines (or the
/// bare string); `None` when it has no text.
pub(super) fn system_text(raw: &RawValue) -> Result<Option<Cow<'_, str>>, Invalid> {
    let invalid = |e: serde_json::Error| Invalid(format!("invalid systemInstruction: {e}"));
    if raw.get().starts_with('"') {
        let text: Cow<'_, str> = crate::schema::openai::string(raw).map_err(invalid)?;
        return Ok((!text.is_empty()).then_some(text));
    }
    let content: Content<'_> = serde_json::from_str(raw.get()).map_err(invalid)?;
    let mut texts = Vec::new();
    for (j, part) in content.parts.unwrap_or_default().into_iter().enumerate() {
        match classify(part, Whose::System, j)? {
            None => {}
            Some(PartData::Text(text)) => texts.push(text),
            Some(_) => {
                return Err(Invalid(format!(
                    "systemInstruction.parts[{j}] must be a text part"
                )))
            }
        }
    }
    Ok(join(texts, "\n"))
}

/// A part's data once its kind is known.
enum PartData<'a> {
    Text(Cow<'a, str>),
    /// An image's URL: `data:` or http(s).
    Image(Cow<'a, str>),
    Call(FunctionCall<'a>),
    Response(FunctionResponse<'a>),
}

/// The content a part belongs to, for error messages.
#[derive(Clone, Copy)]
enum Whose {
    System,
    Content(usize),
}

impl fmt::Display for Whose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Whose::System => f.write_str("systemInstruction"),
            Whose::Content(i) => write!(f, "contents[{i}]"),
        }
    }
}

/// The data of part `j` of `whose`; `None` for a part that is dropped: a
/// thought (the model's earlier reasoning, which no hub model reads back),
/// empty text, or one with no data (a bare `thoughtSignature`).
fn classify<'a>(part: Part<'a>, whose: Whose, j: usize) -> Result<Option<PartData<'a>>, Invalid> {
    let server_part = [
        ("executableCode", part.executable_code.is_some()),
        ("codeExecutionResult", part.code_execution_result.is_some()),
        ("toolCall", part.tool_call.is_some()),
        ("toolResponse", part.tool_response.is_some()),
    ];
    if let Some((kind, _)) = server_part.iter().find(|(_, set)| *set) {
        return Err(Invalid(format!(
            "{whose}.parts[{j}] is a {kind} part, left by a Gemini server tool; only a Gemini \
             provider can take it"
        )));
    }
    if part.thought == Some(true) {
        return Ok(None);
    }
    let set = [
        part.text.is_some(),
        part.inline_data.is_some(),
        part.file_data.is_some(),
        part.function_call.is_some(),
        part.function_response.is_some(),
    ];
    if set.iter().filter(|s| **s).count() > 1 {
        return Err(Invalid(format!(
            "{whose}.parts[{j}] must set only one of text, inlineData, fileData, functionCall \
             and functionResponse"
        )));
    }
    let at = || format!("{whose}.parts[{j}]");
    Ok(if let Some(text) = part.text {
        (!text.is_empty()).then_some(PartData::Text(text))
    } else if let Some(blob) = part.inline_data {
        Some(PartData::Image(inline_image(blob, at)?))
    } else if let Some(file) = part.file_data {
        Some(PartData::Image(file_image(file, at)?))
    } else if let Some(call) = part.function_call {
        Some(PartData::Call(call))
    } else {
        part.function_response.map(PartData::Response)
    })
}

fn is_image(mime: &str) -> bool {
    mime.get(..6)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("image/"))
}

/// `inlineData` → a `data:` URL; images only, as chat models take no other
/// media.
fn inline_image<'a>(blob: Blob<'a>, at: impl Fn() -> String) -> Result<Cow<'a, str>, Invalid> {
    let mime = blob.mime_type.unwrap_or_default();
    if !is_image(&mime) {
        return Err(Invalid(format!(
            "{}.inlineData has mimeType '{mime}': only images (image/*) can be sent to a model \
             that is not served by a Gemini provider",
            at()
        )));
    }
    let data = blob
        .data
        .ok_or_else(|| Invalid(format!("{}.inlineData has no data", at())))?;
    const BASE64: &str = ";base64,";
    let mut url = String::with_capacity(5 + mime.len() + BASE64.len() + data.len() + 2);
    url.push_str("data:");
    url.push_str(&mime);
    url.push_str(BASE64);
    let start = url.len();
    // Data URLs take the standard alphabet with padding; protobuf JSON
    // also allows the URL-safe one and no padding.
    url.extend(data.chars().map(|c| match c {
        '-' => '+',
        '_' => '/',
        c => c,
    }));
    while (url.len() - start) % 4 != 0 {
        url.push('=');
    }
    Ok(Cow::Owned(url))
}

/// `fileData` → the image's URL. Only http(s) URLs that anyone can fetch:
/// `gs://` objects and Gemini Files API URIs need Google credentials.
fn file_image<'a>(file: FileData<'a>, at: impl Fn() -> String) -> Result<Cow<'a, str>, Invalid> {
    let uri = file
        .file_uri
        .ok_or_else(|| Invalid(format!("{}.fileData has no fileUri", at())))?;
    let image = match file.mime_type.as_deref() {
        Some(mime) if !mime.is_empty() => is_image(mime),
        _ => has_image_extension(&uri),
    };
    if !image {
        return Err(Invalid(format!(
            "{}.fileData '{uri}' is not an image (give an image/* mimeType): only images can be \
             sent to a model that is not served by a Gemini provider",
            at()
        )));
    }
    let http = ["https://", "http://"].iter().any(|scheme| {
        uri.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if !http || uri.starts_with("https://generativelanguage.googleapis.com/") {
        return Err(Invalid(format!(
            "{}.fileData '{uri}' can only be read by a Gemini provider: give a public http(s) \
             URL or the image inline (inlineData)",
            at()
        )));
    }
    Ok(uri)
}

fn has_image_extension(uri: &str) -> bool {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let ext = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    ["png", "jpg", "jpeg", "gif", "webp"]
        .iter()
        .any(|known| ext.eq_ignore_ascii_case(known))
}

/// `texts` joined by `separator`; borrowed when there is one, `None` when
/// there are none.
fn join<'a>(mut texts: Vec<Cow<'a, str>>, separator: &str) -> Option<Cow<'a, str>> {
    match texts.len() {
        0 => None,
        1 => texts.pop(),
        _ => Some(Cow::Owned(texts.join(separator))),
    }
}

/// A function call of the latest model turn, waiting for its response.
struct OpenCall<'a> {
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    answered: bool,
}

/// Fails if a call of the model turn `turn` has no response.
fn check_answered(open: &[OpenCall<'_>], turn: usize) -> Result<(), Invalid> {
    match open.iter().find(|c| !c.answered) {
        None => Ok(()),
        Some(call) => Err(Invalid(format!(
            "contents[{turn}] calls function '{}', but the user turn right after it has no \
             functionResponse for it",
            call.name
        ))),
    }
}

/// The chat messages for `contents`, appended to `messages`. A user turn's
/// function responses become `tool` messages (first, right after the
/// assistant's tool calls, as the hub wants), its other parts one user
/// message.
pub(super) fn push_conversation<'a>(
    contents: Vec<Content<'a>>,
    messages: &mut Vec<hub::Message<'a>>,
) -> Result<(), Invalid> {
    if contents.is_empty() {
        return Err(Invalid(
            "'contents' must be a non-empty array of Content objects".to_owned(),
        ));
    }
    let mut open_calls: Vec<OpenCall<'a>> = Vec::new();
    // The turn `open_calls` belong to.
    let mut calling_turn = 0;
    let mut made_up_ids = 0usize;
    let mut conversation_messages = 0usize;
    for (i, content) in contents.into_iter().enumerate() {
        let whose = Whose::Content(i);
        let is_model = match content.role.as_deref() {
            None | Some("" | "user") => false,
            Some("model") => true,
            Some(other) => {
                return Err(Invalid(format!(
                    "{whose}.role is '{other}'; it must be 'user' or 'model'"
                )))
            }
        };
        let mut texts = Vec::new();
        let mut images = Vec::new();
        let mut calls = Vec::new();
        let before = messages.len();
        for (j, part) in content.parts.unwrap_or_default().into_iter().enumerate() {
            match (classify(part, whose, j)?, is_model) {
                (None, _) => {}
                (Some(PartData::Text(text)), _) => texts.push(text),
                (Some(PartData::Image(url)), false) => images.push((texts.len(), url)),
                (Some(PartData::Call(call)), true) => {
                    calls.push(tool_call(call, whose, j, &mut made_up_ids)?);
                }
                (Some(PartData::Response(response)), false) => {
                    let message = tool_message(response, &mut open_calls, whose, j)?;
                    messages.push(message);
                }
                (Some(PartData::Image(_)), true) => {
                    return Err(Invalid(format!(
                        "{whose}.parts[{j}]: a model turn can hold text and function calls, not \
                         media"
                    )))
                }
                (Some(PartData::Call(_)), false) => {
                    return Err(Invalid(format!(
                        "{whose}.parts[{j}]: a functionCall belongs in a model turn"
                    )))
                }
                (Some(PartData::Response(_)), true) => {
                    return Err(Invalid(format!(
                        "{whose}.parts[{j}]: a functionResponse belongs in a user turn"
                    )))
                }
            }
        }
        check_answered(&open_calls, calling_turn)?;
        open_calls.clear();
        if is_model {
            open_calls.extend(calls.iter().map(|c| OpenCall {
                id: c.id.clone(),
                name: c.function.name.clone(),
                answered: false,
            }));
            calling_turn = i;
            // The model's text came in pieces (a streamed answer keeps one
            // part per chunk): joined without separators.
            let text = join(texts, "");
            if text.is_some() || !calls.is_empty() {
                messages.push(hub::Message::assistant(text, calls));
            }
        } else if let Some(content) = user_content(texts, images) {
            messages.push(hub::Message::new("user", content));
        }
        conversation_messages += messages.len() - before;
    }
    if conversation_messages == 0 {
        return Err(Invalid(
            "'contents' has no text, image or function part to send".to_owned(),
        ));
    }
    Ok(())
}

/// A model turn's `functionCall` as a hub tool call; one without an id
/// gets `call_<n>`, `made_up_ids` counting the request's made-up ids.
fn tool_call<'a>(
    call: FunctionCall<'a>,
    whose: Whose,
    j: usize,
    made_up_ids: &mut usize,
) -> Result<hub::ToolCall<'a>, Invalid> {
    let name = call
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Invalid(format!("{whose}.parts[{j}].functionCall has no name")))?;
    let arguments = call.args.map_or("{}", RawValue::get);
    if !arguments.starts_with('{') {
        return Err(Invalid(format!(
            "{whose}.parts[{j}].functionCall.args must be an object"
        )));
    }
    let id = call.id.filter(|id| !id.is_empty()).unwrap_or_else(|| {
        *made_up_ids += 1;
        Cow::Owned(format!("call_{made_up_ids}"))
    });
    Ok(hub::ToolCall::function(id, name, Cow::Borrowed(arguments)))
}

/// A user turn's content: its one text as a string, else parts in the order
/// sent (`images` holds each image's position among the texts); `None`
/// when it has neither.
fn user_content<'a>(
    texts: Vec<Cow<'a, str>>,
    images: Vec<(usize, Cow<'a, str>)>,
) -> Option<hub::Content<'a>> {
    let mut parts = Vec::with_capacity(texts.len() + images.len());
    let mut images = images.into_iter().peekable();
    for (position, text) in texts.into_iter().enumerate() {
        while let Some((_, url)) = images.next_if(|(at, _)| *at == position) {
            parts.push(hub::Part::image(url));
        }
        parts.push(hub::Part::Text { text });
    }
    parts.extend(images.map(|(_, url)| hub::Part::image(url)));
    (!parts.is_empty()).then(|| hub::Content::from_parts(parts))
}

/// The `tool` message for a `functionResponse`, answering the open call
/// with its id, else the first unanswered one of its name (Gemini often
/// sends no ids and matches by name, in order).
fn tool_message<'a>(
    response: FunctionResponse<'a>,
    open_calls: &mut [OpenCall<'a>],
    whose: Whose,
    j: usize,
) -> Result<hub::Message<'a>, Invalid> {
    let at = || format!("{whose}.parts[{j}].functionResponse");
    if response
        .parts
        .is_some_and(|p| p.get() != "[]" && p.get() != "null")
    {
        return Err(Invalid(format!(
            "{} has parts (media); only a Gemini provider takes those",
            at()
        )));
    }
    let name = response.name.unwrap_or_default();
    let by_id = response
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .and_then(|id| open_calls.iter().position(|c| !c.answered && c.id == id));
    let call = by_id
        .or_else(|| {
            open_calls
                .iter()
                .position(|c| !c.answered && c.name == name)
        })
        .and_then(|i| open_calls.get_mut(i))
        .ok_or_else(|| {
            Invalid(format!(
                "{} '{name}' answers no functionCall of the model turn right before it",
                at()
            ))
        })?;
    call.answered = true;
    let output = response
        .response
        .ok_or_else(|| Invalid(format!("{} '{name}' has no response", at())))?;
    Ok(hub::Message::tool(
        call.id.clone(),
        Cow::Borrowed(output.get()),
    ))
}

#[cfg(test)]
#[path = "contents_tests.rs"]
mod tests;
