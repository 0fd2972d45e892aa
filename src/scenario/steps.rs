//! `flows` and their steps.

#[allow(unused_imports)]
use super::*;

/// What `request_line` finds.
struct RequestLine {
    method: Method,
    /// The path as written.
    path: String,
    /// Under the target's base path.
    full_path: String,
    /// The path when it has templates.
    path_t: Option<Template>,
    /// `GET /base/path`, for reports.
    source: String,
}

/// Why a step's path is refused (`0`, `path`: the path as written, trimmed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum StepPathError {
    #[error("path `{0}` contains spaces: encode them as %20")]
    Spaces(String),
    #[error("`{0}` is not a valid URL path")]
    InvalidPath(String),
    /// A full URL that is not a target URL.
    #[error("{0}")]
    InvalidTarget(#[from] crate::plan::TargetError),
    #[error(
        "`{path}` is on another host than the target `{target}`: steps address the target only"
    )]
    OtherHost { path: String, target: String },
    #[error("`{0}` is not a valid URL")]
    InvalidUrl(String),
    #[error("path `{0}` must start with `/` (it is appended to the target)")]
    Relative(String),
}

/// The request-line path of a step: `/x` under the target's base path, or a full URL on the
/// same host.
pub(super) fn step_path(path: &str, target: &Target) -> Result<String, StepPathError> {
    let p = path.trim();
    if p.starts_with('/') {
        if p.contains(char::is_whitespace) {
            return Err(StepPathError::Spaces(p.into()));
        }
        let full = format!("{}{}", target.base_path, p);
        full.parse::<http::uri::PathAndQuery>()
            .map_err(|_| StepPathError::InvalidPath(p.into()))?;
        return Ok(full);
    }
    if p.starts_with("http://") || p.starts_with("https://") {
        let t = Target::parse(p.split_once('?').map_or(p, |(a, _)| a))
            .map_err(StepPathError::InvalidTarget)?;
        if t.host != target.host || t.port != target.port {
            return Err(StepPathError::OtherHost {
                path: p.into(),
                target: target.url(),
            });
        }
        let uri: http::Uri = p.parse().map_err(|_| StepPathError::InvalidUrl(p.into()))?;
        return Ok(uri.path_and_query().map_or("/".into(), |pq| pq.to_string()));
    }
    Err(StepPathError::Relative(p.into()))
}

impl Builder<'_> {
    pub(super) fn flows(
        &self,
        raw_flows: &[RawFlow],
        target: &Target,
        headers: &HeaderMap,
        auth: Option<&Template>,
        scope: &mut journey::Scope,
        step_names: &mut Vec<String>,
    ) -> Result<Vec<Flow>, ScenarioError> {
        let declared = scope.declared;
        if raw_flows.is_empty() {
            return Err(self.at_key("flows", "a scenario needs at least one flow with steps"));
        }
        let mut flows = Vec::new();
        for (fi, f) in raw_flows.iter().enumerate() {
            let fpath = format!("flows.{fi}");
            if f.steps.is_empty() {
                return Err(
                    self.at_key(&format!("{fpath}.steps"), "a flow needs at least one step")
                );
            }
            scope.enter_flow(declared);
            let mut steps = Vec::new();
            for (si, s) in f.steps.iter().enumerate() {
                let spath = format!("{fpath}.steps.{si}");
                let step = self.step(s, &spath, target, headers, auth, scope, step_names)?;
                steps.push(step);
            }
            let name = match &f.name {
                Some(n) if limits::printable(n).trim().is_empty() => {
                    return Err(self.at_value(
                        &format!("{fpath}.name"),
                        "a flow name cannot be empty: leave `name` out to get `flowN`",
                    ));
                }
                Some(n) => limits::printable(n),
                None => format!("flow{}", fi + 1),
            };
            if flows.iter().any(|g: &Flow| g.name == name) {
                return Err(self.at_value(
                    &format!("{fpath}.name"),
                    format!("two flows are named `{name}`: give each its own name"),
                ));
            }
            flows.push(Flow {
                name,
                weight: f.weight.unwrap_or(1),
                steps,
                feeds: scope.flow_feeds.clone(),
            });
        }
        if flows.iter().all(|f| f.weight == 0) {
            return Err(self.at_key("flows", "every flow has weight 0: nothing would run"));
        }
        Ok(flows)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &self,
        s: &RawStep,
        spath: &str,
        target: &Target,
        base_headers: &HeaderMap,
        auth: Option<&Template>,
        scope: &mut journey::Scope,
        names: &mut Vec<String>,
    ) -> Result<Step, ScenarioError> {
        let RequestLine {
            method,
            path,
            full_path,
            path_t,
            source,
        } = self.request_line(s, spath, target, scope)?;
        let name = match &s.name {
            Some(n) if limits::printable(n).trim().is_empty() => {
                return Err(self.at_value(
                    &format!("{spath}.name"),
                    "a step name cannot be empty: leave `name` out to be named after the request",
                ));
            }
            Some(n) => limits::printable(n),
            None => limits::printable(&format!("{method} {path}")),
        };
        let metric = match names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        let (mut headers, dyn_headers) = self.step_headers(s, spath, scope, base_headers, auth)?;
        let (body, body_t) = self.step_body(s, spath, scope, &mut headers)?;
        let expect_status = self.expect_status(s, spath)?;
        if matches!(s.think_time, Some(ThinkSpec::Pacing(_))) {
            return Err(self.at_value(
                &format!("{spath}.think_time"),
                "pacing applies to whole iterations: set it as `load.think_time`",
            ));
        }
        let status_check = expect_status.as_ref().map(|codes| {
            scope.checks.push(CheckInfo {
                metric,
                description: format!(
                    "status in [{}]",
                    codes
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            scope.checks.len() - 1
        });
        let checks = match &s.expect {
            Some(e) => self.checks(scope, metric, e, spath)?,
            None => Vec::new(),
        };
        // Extracted names become visible after this step's own templates.
        let extract = self.extracts(scope, &s.extract, spath)?;
        let dynamic =
            (path_t.is_some() || !dyn_headers.is_empty() || body_t.is_some()).then(|| Dynamic {
                path: path_t.unwrap_or_else(|| Template::literal(&full_path)),
                headers: dyn_headers,
                body: body_t.unwrap_or_else(|| {
                    Template::literal(std::str::from_utf8(&body).unwrap_or_default())
                }),
            });
        Ok(Step {
            metric,
            method,
            path: full_path,
            source,
            headers,
            body,
            expect_status,
            think: s.think_time.map_or(Think::None, think),
            dynamic,
            extract,
            checks,
            status_check,
            ws: match &s.ws {
                Some(v) => Some(Box::new(self.ws_spec(
                    scope,
                    metric,
                    v,
                    s.actions.as_ref(),
                    spath,
                )?)),
                None => None,
            },
            stream: match &s.sse {
                Some(v) => Some(Box::new(self.stream_spec(v, &format!("{spath}.sse"))?)),
                None => None,
            },
        })
    }

    /// The step's method and path: exactly one of get/post/…/ws, the path under the target's
    /// base path (a template when it has `{{ }}`), and the request as written for reports.
    fn request_line(
        &self,
        s: &RawStep,
        spath: &str,
        target: &Target,
        scope: &mut journey::Scope,
    ) -> Result<RequestLine, ScenarioError> {
        let ws_path = s.ws.as_ref().map(|w| ws::ws_path(w).unwrap_or_default());
        if s.actions.is_some() && s.ws.is_none() {
            return Err(self.at_key(
                &format!("{spath}.actions"),
                "`actions` belong to a WebSocket step (`ws: /path`)",
            ));
        }
        if s.ws.is_some() && s.sse.is_some() {
            return Err(self.at_key(
                &format!("{spath}.sse"),
                "a step is either a WebSocket session (`ws`) or an event stream (`sse`)",
            ));
        }
        let methods = [
            ("ws", &ws_path, Method::GET),
            ("get", &s.get, Method::GET),
            ("post", &s.post, Method::POST),
            ("put", &s.put, Method::PUT),
            ("patch", &s.patch, Method::PATCH),
            ("delete", &s.delete, Method::DELETE),
            ("head", &s.head, Method::HEAD),
            ("options", &s.options, Method::OPTIONS),
        ];
        let set: Vec<_> = methods.iter().filter(|(_, p, _)| p.is_some()).collect();
        let (key, path, method) = match set.as_slice() {
            [one] => (one.0, one.1.clone().unwrap_or_default(), one.2.clone()),
            [] => {
                return Err(self.at_value(spath, "a step needs a request: `get: /path` (or post, put, patch, delete, head, options; `ws: /path` for a WebSocket)"));
            }
            [_, second, ..] => {
                return Err(self.at_key(
                    &format!("{spath}.{}", second.0),
                    "a step sends one request: use one of get/post/put/patch/delete per step",
                ));
            }
        };
        let ppath = format!("{spath}.{key}");
        let path_t = self.template(scope, &path, Escape::Path, &ppath)?;
        let (full_path, path_t) = match path_t.text() {
            Some(text) => (
                step_path(&text, target).map_err(|m| self.at_value(&ppath, m))?,
                None,
            ),
            None => {
                if !path.trim_start().starts_with('/') {
                    return Err(self.at_value(
                        &ppath,
                        "a path with templates starts with `/` (it is appended to the target's base path)",
                    ));
                }
                let mut t = path_t;
                t.parts
                    .insert(0, Part::Lit(Bytes::from(target.base_path.clone())));
                (format!("{}{}", target.base_path, path.trim()), Some(t))
            }
        };
        let source = format!("{method} {}{}", target.base_path, path.trim());
        Ok(RequestLine {
            method,
            path,
            full_path,
            path_t,
            source,
        })
    }

    /// The step's headers over the defaults: static ones pre-built, templated ones (and a
    /// templated `auth`) rendered per request.
    fn step_headers(
        &self,
        s: &RawStep,
        spath: &str,
        scope: &mut journey::Scope,
        base_headers: &HeaderMap,
        auth: Option<&Template>,
    ) -> Result<(HeaderMap, Vec<(HeaderName, Template)>), ScenarioError> {
        let mut dyn_headers: Vec<(HeaderName, Template)> = Vec::new();
        let mut static_headers = IndexMap::new();
        for (k, v) in &s.headers {
            let hp = format!("{spath}.headers.{k}");
            let t = self.template(scope, v, Escape::Header, &hp)?;
            match t.text() {
                Some(text) => {
                    static_headers.insert(k.clone(), text);
                }
                None => {
                    let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                        self.at_key(&hp, format!("`{k}` is not a valid header name"))
                    })?;
                    dyn_headers.push((name, t));
                }
            }
        }
        let mut headers =
            self.headers(&static_headers, &format!("{spath}.headers"), base_headers)?;
        let step_auth = match &s.auth {
            Some(a) => Some(self.auth(scope, a, &format!("{spath}.auth"))?),
            None => None,
        };
        if let Some(a) = step_auth.as_ref().or(auth) {
            match a.text() {
                Some(v) => {
                    let value = HeaderValue::from_str(&v).map_err(|_| {
                        self.at_value(
                            &format!("{spath}.auth"),
                            "the credentials have characters a header cannot carry",
                        )
                    })?;
                    headers.insert(http::header::AUTHORIZATION, value);
                }
                None => dyn_headers.push((http::header::AUTHORIZATION, a.clone())),
            }
        }
        for (name, _) in &dyn_headers {
            headers.remove(name);
        }
        Ok((headers, dyn_headers))
    }

    /// `body` or `json` (which also sets `content-type`), pre-built or a template.
    fn step_body(
        &self,
        s: &RawStep,
        spath: &str,
        scope: &mut journey::Scope,
        headers: &mut HeaderMap,
    ) -> Result<(Bytes, Option<Template>), ScenarioError> {
        let mut body_t: Option<Template> = None;
        let body = match (&s.body, &s.json) {
            (Some(_), Some(_)) => {
                return Err(self.at_key(
                    &format!("{spath}.json"),
                    "a step has either `body` or `json`, not both",
                ));
            }
            (Some(b), None) => {
                let t = self.template(scope, b, Escape::Text, &format!("{spath}.body"))?;
                match t.text() {
                    Some(text) => Bytes::from(text),
                    None => {
                        body_t = Some(t);
                        Bytes::new()
                    }
                }
            }
            (None, Some(j)) => {
                let v: serde_json::Value = serde_json::to_value(j).map_err(|e| {
                    self.at_value(
                        &format!("{spath}.json"),
                        format!("cannot be sent as JSON: {e}"),
                    )
                })?;
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
                // Templates can only sit inside JSON strings; their values are escaped as such.
                let t = self.template(
                    scope,
                    &v.to_string(),
                    Escape::Json,
                    &format!("{spath}.json"),
                )?;
                match t.text() {
                    Some(text) => Bytes::from(text),
                    None => {
                        body_t = Some(t);
                        Bytes::new()
                    }
                }
            }
            (None, None) => Bytes::new(),
        };
        Ok((body, body_t))
    }

    /// `expect.status`: one or more HTTP statuses.
    fn expect_status(&self, s: &RawStep, spath: &str) -> Result<Option<Vec<u16>>, ScenarioError> {
        let expect_status = match s.expect.as_ref().and_then(|e| e.status.clone()) {
            None => None,
            Some(codes) => {
                let codes = codes.into_vec();
                if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
                    return Err(self.at_value(
                        &format!("{spath}.expect.status"),
                        format!("`{bad}` is not an HTTP status (100-599)"),
                    ));
                }
                if codes.is_empty() {
                    return Err(self.at_value(
                        &format!("{spath}.expect.status"),
                        "expect.status needs at least one status",
                    ));
                }
                Some(codes)
            }
        };
        Ok(expect_status)
    }
}
