//! `toker-bench upstream`: the trivial app behind toker's gateway for the gateway scenario. Every
//! request gets `{"ok":true}` once its body has been read; `…/download?bytes=N` streams N bytes.
//! It does as little as an HTTP server can, so what the scenario measures is toker.

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{
    Request, Response,
    body::{Frame, Incoming},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;

#[derive(Debug, clap::Args)]
pub struct UpstreamArgs {
    /// Port on 127.0.0.1 (0: any free one, printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

type Body = BoxBody<Bytes, Infallible>;

async fn answer(req: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
    let download: Option<u64> = req
        .uri()
        .path()
        .ends_with("/download")
        .then(|| {
            req.uri()
                .query()
                .and_then(|q| q.strip_prefix("bytes="))
                .and_then(|n| n.parse().ok())
        })
        .flatten();
    // Drain the upload as it arrives.
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    if let Some(total) = download {
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        let frames = futures_util::stream::unfold(total, move |left| {
            let chunk = chunk.clone();
            async move {
                (left > 0).then(|| {
                    let n = left.min(chunk.len() as u64);
                    (
                        Ok::<_, Infallible>(Frame::data(chunk.slice(..n as usize))),
                        left - n,
                    )
                })
            }
        });
        return Ok(Response::builder()
            .header("content-type", "application/octet-stream")
            .header("content-length", total)
            .body(StreamBody::new(frames).boxed())
            .expect("response"));
    }
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"ok\":true}")).boxed())
        .expect("response"))
}

pub async fn run(args: UpstreamArgs) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
