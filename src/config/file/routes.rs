//! `[routes.<name>]`: a model name clients send, resolved into weighted
//! targets and a fallback chain. Every `provider/model` is checked the way an
//! alias target is, so a route cannot name a provider that is not enabled.

use super::error::push_key;
use super::keys::weight;
use super::schema::*;
use super::{check_target, retries, ConfigError};
use crate::config::{ProviderSettings, RetrySettings, RouteSettings, RouteTarget};

/// Every route, in file order.
pub(super) fn resolve(
    file: &Ordered<RouteFile>,
    aliases: &Ordered<String>,
    providers: &[ProviderSettings],
    global_retries: &RetrySettings,
    names: &dyn Fn() -> String,
) -> Result<Vec<RouteSettings>, ConfigError> {
    let mut routes = Vec::with_capacity(file.0.len());
    for (name, route) in &file.0 {
        let mut base = String::new();
        push_key(&mut base, "routes");
        push_key(&mut base, name);
        check_name(name, &base, aliases)?;
        let at = |key: &str| format!("{base}.{key}");

        if route.targets.is_empty() {
            return Err(
                ConfigError::invalid(at("targets"), "a route needs at least one target")
                    .with_hint("targets = [\"provider/model\"]"),
            );
        }
        too_many(&at("targets"), route.targets.len())?;
        too_many(&at("fallbacks"), route.fallbacks.len())?;

        let mut targets = Vec::with_capacity(route.targets.len());
        for (i, entry) in route.targets.iter().enumerate() {
            let at = format!("{}[{i}]", at("targets"));
            let target = match entry {
                OrTable::Bare(model) => {
                    check_target(model, &at, providers, names)?;
                    RouteTarget {
                        model: model.clone(),
                        weight: 1,
                    }
                }
                OrTable::Table(table) => {
                    check_target(&table.model, &format!("{at}.model"), providers, names)?;
                    RouteTarget {
                        model: table.model.clone(),
                        weight: weight(&format!("{at}.weight"), table.weight)?,
                    }
                }
            };
            targets.push(target);
        }
        for (i, model) in route.fallbacks.iter().enumerate() {
            check_target(
                model,
                &format!("{}[{i}]", at("fallbacks")),
                providers,
                names,
            )?;
        }

        routes.push(RouteSettings {
            name: name.clone(),
            targets,
            fallbacks: route.fallbacks.clone(),
            retries: retries::resolve_override(
                route.retries.as_ref(),
                &at("retries"),
                global_retries,
            )?,
        });
    }
    Ok(routes)
}

/// A route name is what clients send as `model`: a bare name (a `/` would make
/// it a `provider/model`), not taken by an alias (which would win is unclear).
fn check_name(name: &str, path: &str, aliases: &Ordered<String>) -> Result<(), ConfigError> {
    if name.is_empty() || name.contains('/') || name.len() > MAX_ROUTE_NAME_BYTES {
        return Err(ConfigError::invalid(
            path,
            format!(
                "invalid route name {name:?}: must be non-empty, at most \
                 {MAX_ROUTE_NAME_BYTES} bytes and contain no `/`"
            ),
        )
        .with_hint("a route is a bare model name; `provider/model` names route directly"));
    }
    if aliases.0.iter().any(|(alias, _)| alias == name) {
        return Err(ConfigError::invalid(
            path,
            format!("{name:?} is also an alias; a model name can be one or the other"),
        )
        .with_hint("rename the route or remove the alias"));
    }
    Ok(())
}

fn too_many(path: &str, len: usize) -> Result<(), ConfigError> {
    if len > MAX_ROUTE_TARGETS {
        return Err(ConfigError::invalid(
            path,
            format!("{len} entries; at most {MAX_ROUTE_TARGETS} are allowed"),
        ));
    }
    Ok(())
}
