//! The task handlers. Each passes the gate ([`gate::admit`]), parses its input, and only then
//! opens a database connection for its one statement.

use worker::{Request, Response};

use super::{body, gate, header, response, settings, Ctx};
use crate::{
    db,
    error::ApiError,
    tasks::{
        conditional::{self, IfMatch},
        After, Completion, ListQuery, NewTask, SortKey, TaskChanges,
    },
};

/// `GET /api/{user_id}/tasks`: one page, with `Link` to the next when more follow.
pub async fn list(req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let who = gate::admit(&req, &ctx).await?;
    let url = req.url()?;
    let settings = settings::get(&ctx.env);
    // The gate let the request through, so the configuration is usable.
    let key = settings
        .auth
        .as_ref()
        .map(|config| config.cursor_key.as_slice())
        .map_err(|&cause| ApiError::Misconfigured(cause))?;
    let query = ListQuery::parse(url.query().unwrap_or(""), &who.user_id, key)?;
    let page = db::with_connection(&ctx.env, &ctx.data.db(&ctx.env), |client| {
        let (user_id, query) = (&who.user_id, &query);
        async move { db::list_tasks(&client, user_id, query).await }
    })
    .await?;
    let mut response = response::json(200, &page.tasks)?;
    if let (true, Some(last)) = (page.more, page.tasks.last()) {
        let after = match query.sort {
            SortKey::Title => After::Title(last.title.clone(), last.id),
            SortKey::CreatedAt => After::Time(last.created_at, last.id),
            SortKey::UpdatedAt => After::Time(last.updated_at, last.id),
        };
        let cursor = query.cursor_after(&after, &who.user_id, key);
        let mut next = url.clone();
        next.set_query(Some(&query.next_query(&cursor)));
        // RFC 8288: the next page's full URL.
        let link = format!("<{next}>; rel=\"next\"");
        response.headers_mut().set("Link", &link)?;
    }
    Ok(response)
}

/// `POST /api/{user_id}/tasks`: 201 with `Location`; a repeated `Idempotency-Key` replays.
pub async fn create(mut req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let who = gate::admit(&req, &ctx).await?;
    let key = conditional::idempotency_key(header(&req, "Idempotency-Key")?.as_deref())?;
    let new_task = NewTask::parse(&body::read(&mut req).await?)?;
    let created = db::with_connection(&ctx.env, &ctx.data.db(&ctx.env), |client| async move {
        db::insert_task(&client, &who, &new_task, key.as_deref()).await
    })
    .await?;
    let task = &created.task;
    let mut response = response::task(201, task)?;
    // User ids are limited to characters that are safe in a path segment.
    let location = format!("/api/{}/tasks/{}", task.user_id, task.id);
    response.headers_mut().set("Location", &location)?;
    if created.replayed {
        response.headers_mut().set("Idempotent-Replayed", "true")?;
    }
    Ok(response)
}

/// `GET /api/{user_id}/tasks/{id}`: the task, or 304 when `If-None-Match` names its version.
pub async fn get(req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let (who, id) = gate::admit_task(&req, &ctx).await?;
    let task = db::with_connection(&ctx.env, &ctx.data.db(&ctx.env), |client| async move {
        db::get_task(&client, &who.user_id, id).await
    })
    .await?;
    if conditional::if_none_match(header(&req, "If-None-Match")?.as_deref(), task.version) {
        let response = Response::empty()?.with_status(304);
        response
            .headers()
            .set("ETag", &conditional::etag(task.version))?;
        return Ok(response);
    }
    response::task(200, &task)
}

/// `PUT /api/{user_id}/tasks/{id}`: changes the fields the body gives, if `If-Match` allows.
pub async fn update(mut req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let (who, id) = gate::admit_task(&req, &ctx).await?;
    let if_match = IfMatch::parse(header(&req, "If-Match")?.as_deref())?;
    let changes = TaskChanges::parse(&body::read(&mut req).await?)?;
    let task = db::with_connection(&ctx.env, &ctx.data.db(&ctx.env), |client| async move {
        db::update_task(&client, &who.user_id, id, &changes, if_match.as_ref()).await
    })
    .await?;
    response::task(200, &task)
}

/// `PATCH /api/{user_id}/tasks/{id}/complete`: sets or toggles `completed`.
pub async fn complete(mut req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let (who, id) = gate::admit_task(&req, &ctx).await?;
    let if_match = IfMatch::parse(header(&req, "If-Match")?.as_deref())?;
    let completion = Completion::parse(&body::read(&mut req).await?)?;
    let changes = TaskChanges::from(completion);
    let task = db::with_connection(&ctx.env, &ctx.data.db(&ctx.env), |client| async move {
        db::update_task(&client, &who.user_id, id, &changes, if_match.as_ref()).await
    })
    .await?;
    response::task(200, &task)
}

/// `DELETE /api/{user_id}/tasks/{id}`: 204, if `If-Match` allows.
pub async fn delete(req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let (who, id) = gate::admit_task(&req, &ctx).await?;
    let if_match = IfMatch::parse(header(&req, "If-Match")?.as_deref())?;
    db::with_connection(&ctx.env, &ctx.data.db(&ctx.env), |client| async move {
        db::delete_task(&client, &who.user_id, id, if_match.as_ref()).await
    })
    .await?;
    Ok(Response::empty()?.with_status(204))
}
