//! One cache per kind over the watches of several namespaces.
//!
//! With `--namespace` the operator may not watch all namespaces (its RBAC
//! is namespaced), so it runs one watch per namespace; but one controller,
//! scheduler and cache per kind serve them all. kube's reflector cannot be
//! shared that way: on each watch's (re)list it swaps its whole store for
//! that list, which would drop the other namespaces. [`Union`] applies each
//! list in place instead, and after a namespace's list removes only that
//! namespace's objects the list no longer had.

use std::collections::{HashMap, HashSet};

use kube::Resource;
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

/// The writer side of a kind's cache, fed by every watched namespace.
pub struct Union<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    writer: Writer<K>,
    reader: Store<K>,
    /// Per namespace whose list is under way: the names it has listed.
    listing: HashMap<Option<String>, HashSet<String>>,
    /// Namespaces whose first list is done, and how many there are.
    synced: HashSet<Option<String>>,
    scopes: usize,
    ready: watch::Sender<bool>,
}

impl<K> Union<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    /// A cache over `scopes` watches (a namespace each, or one for all).
    /// kube's store is marked ready at once, so the controller reconciles
    /// each namespace's objects as they arrive; whether every namespace has
    /// listed is told by [`Union::synced`].
    pub fn new(mut writer: Writer<K>, scopes: usize) -> Self {
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        let reader = writer.as_reader();
        Union {
            writer,
            reader,
            listing: HashMap::new(),
            synced: HashSet::new(),
            scopes,
            ready: watch::Sender::new(scopes == 0),
        }
    }

    /// True once every namespace's watch has listed its objects.
    pub fn synced(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Applies one event of the watch of namespace `ns` (None: all) and
    /// passes it on; a listed object goes on as an Apply, which is what
    /// the cache made of it.
    pub fn apply(&mut self, ns: &Option<String>, event: Event<K>) -> Event<K> {
        let event = match event {
            Event::Init => {
                self.listing.insert(ns.clone(), HashSet::new());
                Event::Init
            }
            Event::InitApply(o) => {
                if let Some(names) = self.listing.get_mut(ns) {
                    names.insert(key(ns, &o));
                }
                Event::Apply(o)
            }
            Event::InitDone => {
                let listed = self.listing.remove(ns).unwrap_or_default();
                self.drop_unlisted(ns, &listed);
                self.synced.insert(ns.clone());
                if self.synced.len() >= self.scopes {
                    self.ready.send_replace(true);
                }
                Event::InitDone
            }
            other => other,
        };
        // Init and InitDone would swap kube's store for a list of one
        // namespace; they were handled above instead.
        if matches!(event, Event::Apply(_) | Event::Delete(_)) {
            self.writer.apply_watcher_event(&event);
        }
        event
    }

    /// Removes the objects of `ns` that its latest list did not have: they
    /// were deleted while the watch was away.
    fn drop_unlisted(&mut self, ns: &Option<String>, listed: &HashSet<String>) {
        let gone: Vec<_> = self
            .reader
            .state()
            .into_iter()
            .filter(|o| ns.is_none() || o.meta().namespace == *ns)
            .filter(|o| !listed.contains(&key(ns, o.as_ref())))
            .collect();
        for o in gone {
            self.writer
                .apply_watcher_event(&Event::Delete(o.as_ref().clone()));
        }
    }
}

/// How a list's objects are told apart: by name within a namespace, by
/// namespace and name across all.
fn key<K: Resource>(scope: &Option<String>, o: &K) -> String {
    let meta = o.meta();
    let name = meta.name.clone().unwrap_or_default();
    match (scope, &meta.namespace) {
        (None, Some(ns)) => format!("{ns}/{name}"),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::ResourceExt;
    use kube::runtime::reflector;

    fn cm(ns: &str, name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.namespace = Some(ns.into());
        c.metadata.name = Some(name.into());
        c
    }

    fn list(u: &mut Union<ConfigMap>, ns: &str, names: &[&str]) {
        let scope = Some(ns.to_string());
        u.apply(&scope, Event::Init);
        for n in names {
            u.apply(&scope, Event::InitApply(cm(ns, n)));
        }
        u.apply(&scope, Event::InitDone);
    }

    fn names(store: &Store<ConfigMap>) -> Vec<String> {
        let mut v: Vec<_> = store
            .state()
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o.meta().namespace.as_deref().unwrap_or_default(),
                    o.name_any()
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_namespaces_relist_replaces_only_that_namespace() {
        let (store, writer) = reflector::store::<ConfigMap>();
        let mut u = Union::new(writer, 2);
        let synced = u.synced();
        list(&mut u, "a", &["x", "y"]);
        assert!(!*synced.borrow(), "one namespace of two has listed");
        list(&mut u, "b", &["x"]);
        assert!(*synced.borrow());
        assert_eq!(names(&store), ["a/x", "a/y", "b/x"]);
        // a's watch comes back after y went and z came: b is untouched.
        list(&mut u, "a", &["x", "z"]);
        assert_eq!(names(&store), ["a/x", "a/z", "b/x"]);
        let b = Some("b".to_string());
        u.apply(&b, Event::Delete(cm("b", "x")));
        u.apply(&b, Event::Apply(cm("b", "w")));
        assert_eq!(names(&store), ["a/x", "a/z", "b/w"]);
    }

    #[test]
    fn an_all_namespace_relist_drops_whatever_it_did_not_list() {
        let (store, writer) = reflector::store::<ConfigMap>();
        let mut u = Union::new(writer, 1);
        u.apply(&None, Event::Apply(cm("a", "x")));
        u.apply(&None, Event::Apply(cm("b", "x")));
        u.apply(&None, Event::Init);
        u.apply(&None, Event::InitApply(cm("b", "x")));
        u.apply(&None, Event::InitDone);
        assert_eq!(names(&store), ["b/x"]);
        assert!(*u.synced().borrow());
    }
}
