//! Bedrock embeddings: one OpenAI `/v1/embeddings` request answered by one or
//! more InvokeModel calls (`bedrock::plan_embeddings`), made one after
//! another on this core's pooled connection and gathered into one OpenAI
//! list. Nothing reaches the client until every call has answered, so a
//! failing call fails the request the way a single call would: its error,
//! translated, or 502/504.

use std::time::Duration;

use super::{
    build_request, failed, header, read_whole, refuse, respond_json, static_reason,
    translate_error, Family, Outcome, Prepared,
};
use crate::api::connection::Client;
use crate::api::proxy::{send, Routed};
use crate::providers::bedrock::{self, EmbeddingsPlan};
use crate::providers::embeddings::ListWriter;
use crate::schema::usage::Usage;
use crate::upstream::UpstreamError;

/// InvokeModel reports the input token count here; Cohere's body has none.
const INPUT_TOKENS_HEADER: &[u8] = b"x-amzn-bedrock-input-token-count";

/// Buffers the calls reuse.
struct Bufs {
    body: Vec<u8>,
    payload: Vec<u8>,
    out: Vec<u8>,
}

/// How the calls ended.
enum Ended {
    /// `send` failed and has answered the client and recorded the request;
    /// whether the client connection can be kept.
    Unanswered(bool),
    /// The client got this answer.
    Answered {
        outcome: Outcome,
        usage: Usage,
        ttfb: Option<Duration>,
    },
}

/// Answers an OpenAI embeddings request routed to a Bedrock provider;
/// returns whether the client connection can be kept.
pub(super) async fn embeddings(
    ctx: &Routed<'_>,
    rbuf: &[u8],
    client: &mut Client,
    client_model: &str,
) -> bool {
    let plan = match bedrock::plan_embeddings(&rbuf[ctx.req.body.clone()], ctx.model) {
        Ok(p) => p,
        Err(e) => return refuse(ctx, client, &e).await,
    };
    let worker = ctx.worker;
    let mut bufs = Bufs {
        body: worker.take_buf(),
        payload: worker.take_buf(),
        out: worker.take_buf(),
    };
    let ended = run(ctx, rbuf, client, client_model, &plan, &mut bufs).await;
    worker.give_buf(bufs.body);
    worker.give_buf(bufs.payload);
    worker.give_buf(bufs.out);
    match ended {
        Ended::Unanswered(keep) => keep,
        Ended::Answered {
            outcome,
            usage,
            ttfb,
        } => {
            ctx.record(outcome.status, outcome.upstream_wait, ttfb, usage);
            outcome.client_reusable && ctx.keep_alive
        }
    }
}

async fn run(
    ctx: &Routed<'_>,
    rbuf: &[u8],
    client: &mut Client,
    client_model: &str,
    plan: &EmbeddingsPlan<'_>,
    bufs: &mut Bufs,
) -> Ended {
    let prepared = Prepared {
        path: bedrock::invoke_path(ctx.model),
        stream: false,
        include_usage: false,
        base64: plan.base64(),
    };
    let mut list = ListWriter::begin(plan.base64(), &mut bufs.out);
    let mut upstream_wait = Duration::ZERO;
    let mut ttfb = None;
    let mut tokens = 0u64;
    let usage = |tokens| Usage {
        prompt_tokens: tokens,
        completion_tokens: 0,
    };
    for call in 0..plan.calls() {
        bufs.body.clear();
        if let Err(e) = plan.translate_request(call, &mut bufs.body) {
            return Ended::Unanswered(refuse(ctx, client, &e).await);
        }
        let mut up = ctx.worker.take_buf();
        let built = build_request(
            &mut up,
            ctx,
            Family::Bedrock,
            rbuf,
            ctx.req,
            &bufs.body,
            &prepared,
        );
        if let Err(missing) = built {
            ctx.worker.give_buf(up);
            return Ended::Unanswered(ctx.refuse_without_credentials(client, missing).await);
        }
        let resp = match send(ctx, client, up).await {
            Ok(r) => r,
            Err(keep) => return Ended::Unanswered(keep),
        };
        ttfb.get_or_insert(resp.ttfb);
        upstream_wait += resp.upstream_wait;
        let status = resp.head.status;
        let header_tokens = header(&resp, INPUT_TOKENS_HEADER)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let retry_after = header(&resp, b"retry-after").map(<[u8]>::to_vec);
        bufs.payload.clear();
        if let Err(e) = read_whole(ctx, resp, &mut bufs.payload, &mut upstream_wait).await {
            let (outcome, _) = failed(ctx, client, &e, upstream_wait).await;
            return answered(outcome, usage(tokens), ttfb);
        }
        if !(200..300).contains(&status) {
            bufs.out.clear();
            let (status, _) =
                translate_error(Family::Bedrock, status, &bufs.payload, &mut bufs.out);
            let ok = respond_json(ctx, client, status, &bufs.out, retry_after.as_deref()).await;
            let outcome = Outcome {
                status,
                client_reusable: ok,
                upstream_wait,
            };
            // Calls already answered were billed: count their tokens.
            return answered(outcome, usage(tokens), ttfb);
        }
        match plan.translate_response(call, &bufs.payload, header_tokens, &mut list, &mut bufs.out)
        {
            Ok(n) => tokens = tokens.saturating_add(n),
            Err(e) => {
                let e = UpstreamError::BadResponse(static_reason(&e));
                let (outcome, _) = failed(ctx, client, &e, upstream_wait).await;
                return answered(outcome, usage(tokens), ttfb);
            }
        }
    }
    list.finish(client_model, tokens, &mut bufs.out);
    let ok = respond_json(ctx, client, 200, &bufs.out, None).await;
    let outcome = Outcome {
        status: 200,
        client_reusable: ok,
        upstream_wait,
    };
    answered(outcome, usage(tokens), ttfb)
}

fn answered(outcome: Outcome, usage: Usage, ttfb: Option<Duration>) -> Ended {
    Ended::Answered {
        outcome,
        usage,
        ttfb,
    }
}
