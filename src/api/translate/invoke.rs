//! Bedrock embeddings: one OpenAI `/v1/embeddings` request answered by one or
//! more InvokeModel calls (`bedrock::plan_embeddings`), made one after
//! another on this core's pooled connection and gathered into one OpenAI
//! list. Nothing reaches the client until every call has answered, so a
//! failing call fails the request the way a single call would: its error,
//! translated, or 502/504.

use super::answer::{error_answer, read_whole, write_json};
use super::{build_request, refused, static_reason, Family, Prepared};
use crate::api::error::GatewayError;
use crate::api::exchange::{no_credentials, send, Exchange, Record};
use crate::api::respond::Client;
use crate::providers::bedrock::{self, EmbeddingsPlan};
use crate::providers::embeddings::ListWriter;
use crate::router::Provider;
use crate::schema::usage::Usage;
use crate::upstream::{BodyReader, OutgoingRequest, UpstreamError};

/// InvokeModel reports the input token count here; Cohere's body has none.
const INPUT_TOKENS_HEADER: &[u8] = b"x-amzn-bedrock-input-token-count";

/// Buffers the calls reuse.
struct Bufs {
    body: Vec<u8>,
    payload: Vec<u8>,
    out: Vec<u8>,
}

/// Answers an OpenAI embeddings request routed to a Bedrock provider.
pub(super) async fn embeddings<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    provider: &'a Provider,
    client_model: &str,
    upstream_model: &str,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let plan = bedrock::plan_embeddings(x.body(), upstream_model).map_err(|e| refused(&e))?;
    let worker = x.worker;
    let mut bufs = Bufs {
        body: worker.take_buf(),
        payload: worker.take_buf(),
        out: worker.take_buf(),
    };
    let tokens = run(
        x,
        client,
        provider,
        upstream_model,
        client_model,
        &plan,
        &mut bufs,
        rec,
    )
    .await;
    let result = match tokens {
        Ok(_) => {
            rec.status = 200;
            write_json(x, client, provider, 200, &bufs.out, rec).await
        }
        Err(e) => Err(e),
    };
    worker.give_buf(bufs.body);
    worker.give_buf(bufs.payload);
    worker.give_buf(bufs.out);
    result
}

/// Make every call; the gathered list is in `bufs.out`. Calls already
/// answered were billed: their tokens are in the record even on failure.
#[allow(clippy::too_many_arguments)]
async fn run<'a>(
    x: &Exchange<'a>,
    client: &Client,
    provider: &'a Provider,
    upstream_model: &str,
    client_model: &str,
    plan: &EmbeddingsPlan<'_>,
    bufs: &mut Bufs,
    rec: &mut Record<'a>,
) -> Result<u64, GatewayError> {
    let prepared = Prepared {
        path: bedrock::invoke_path(upstream_model),
        stream: false,
        include_usage: false,
        base64: plan.base64(),
    };
    let mut list = ListWriter::begin(plan.base64(), &mut bufs.out);
    let mut tokens = 0u64;
    for call in 0..plan.calls() {
        bufs.body.clear();
        plan.translate_request(call, &mut bufs.body)
            .map_err(|e| refused(&e))?;
        let mut up = x.worker.take_buf();
        let built = build_request(
            &mut up,
            x,
            provider,
            Family::Bedrock,
            &bufs.body,
            &prepared,
            rec.key,
        );
        if let Err(missing) = built {
            x.worker.give_buf(up);
            return Err(no_credentials(provider, missing));
        }
        let ttfb = rec.ttfb;
        let resp = send(x, client, provider, OutgoingRequest::whole(up), rec).await?;
        rec.ttfb = ttfb.or(rec.ttfb);
        let reader = BodyReader::new(resp, provider.settings.timeouts.stream_idle);
        let status = reader.head.status;
        let header_tokens = reader
            .header(INPUT_TOKENS_HEADER)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let retry_after = crate::api::exchange::retry_after(&reader);
        bufs.payload.clear();
        read_whole(x, provider, reader, &mut bufs.payload, rec).await?;
        if !(200..300).contains(&status) {
            let mut out = Vec::new();
            return Err(error_answer(
                provider,
                Family::Bedrock,
                status,
                &bufs.payload,
                retry_after,
                &mut out,
            ));
        }
        let n = plan
            .translate_response(call, &bufs.payload, header_tokens, &mut list, &mut bufs.out)
            .map_err(|e| {
                GatewayError::upstream(
                    provider.name(),
                    &UpstreamError::BadResponse(static_reason(&e)),
                )
            })?;
        tokens = tokens.saturating_add(n);
        rec.usage = Usage::new(tokens, 0);
    }
    list.finish(client_model, tokens, &mut bufs.out);
    Ok(tokens)
}
