use std::future::Future;

use futures::stream::{self, Stream};
use futures::TryStreamExt;

/// One page and where the next one starts (`None`: this was the last page).
pub struct PageStep<P, C> {
    pub page: P,
    pub next: Option<C>,
}

/// Turns a "fetch one page from this cursor" function into a stream of pages, so every provider's
/// paging (Box markers and stream positions, Dropbox cursors) walks the same way: one page in
/// memory at a time, stopping at the first error.
pub fn pages<P, C, E, F, Fut>(start: Option<C>, fetch: F) -> impl Stream<Item = Result<P, E>>
where
    C: Clone,
    F: FnMut(Option<C>) -> Fut,
    Fut: Future<Output = Result<PageStep<P, C>, E>>,
{
    resumable_pages(start, fetch).map_ok(|step| step.page)
}

/// Like [`pages`], but each page comes with the cursor of the page after it: what a read that
/// is cut off hands to a later one, which starts again with that cursor as `start`.
pub fn resumable_pages<P, C, E, F, Fut>(
    start: Option<C>,
    fetch: F,
) -> impl Stream<Item = Result<PageStep<P, C>, E>>
where
    C: Clone,
    F: FnMut(Option<C>) -> Fut,
    Fut: Future<Output = Result<PageStep<P, C>, E>>,
{
    enum State<C> {
        Next(Option<C>),
        Done,
    }
    stream::try_unfold(
        (State::Next(start), fetch),
        |(state, mut fetch)| async move {
            let cursor = match state {
                State::Done => return Ok(None),
                State::Next(c) => c,
            };
            let step = fetch(cursor).await?;
            let next = match &step.next {
                Some(c) => State::Next(Some(c.clone())),
                None => State::Done,
            };
            Ok(Some((step, (next, fetch))))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn walks_until_no_cursor() {
        let all: Vec<Vec<u32>> = pages(None, |c: Option<u32>| async move {
            let at = c.unwrap_or(0);
            Ok::<_, ()>(PageStep {
                page: vec![at, at + 1],
                next: (at < 4).then_some(at + 2),
            })
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(all, vec![vec![0, 1], vec![2, 3], vec![4, 5]]);
    }

    #[tokio::test]
    async fn stops_at_the_first_error() {
        let got: Vec<Result<u32, &str>> =
            futures::StreamExt::collect(pages(None, |c: Option<u32>| async move {
                match c {
                    None => Ok(PageStep {
                        page: 1,
                        next: Some(1),
                    }),
                    Some(_) => Err("boom"),
                }
            }))
            .await;
        assert_eq!(got, vec![Ok(1), Err("boom")]);
    }

    #[tokio::test]
    async fn a_read_started_from_a_pages_next_cursor_is_the_rest_of_the_read() {
        let fetch = |c: Option<u32>| async move {
            let at = c.unwrap_or(0);
            Ok::<_, ()>(PageStep {
                page: at,
                next: (at < 3).then_some(at + 1),
            })
        };
        let all: Vec<PageStep<u32, u32>> =
            resumable_pages(None, fetch).try_collect().await.unwrap();
        let nexts: Vec<Option<u32>> = all.iter().map(|s| s.next).collect();
        assert_eq!(nexts, vec![Some(1), Some(2), Some(3), None]);
        let rest: Vec<u32> = pages(all[1].next, fetch).try_collect().await.unwrap();
        assert_eq!(rest, vec![2, 3]);
    }
}
