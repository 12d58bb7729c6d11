//! The model list the gateway serves (`GET /v1/models` and `/v1/models/{id}`),
//! rebuilt by the control plane and swapped in whole.

use std::collections::HashMap;
use std::ops::Range;

use crate::schema::peek::push_json_string;

/// The rendered list and where each model's object sits in it.
#[derive(Debug, Default)]
pub struct ModelList {
    /// `{"object":"list","data":[...]}`
    pub doc: Vec<u8>,
    objects: HashMap<String, Range<usize>>,
    /// Providers whose whole catalogue is in the list (configured or fetched):
    /// an id under them that is not listed does not exist.
    complete: Vec<String>,
}

impl ModelList {
    /// `entries` are (id, owner) pairs, sorted and without duplicate ids.
    pub fn new(entries: &[(String, String)], complete: Vec<String>) -> Self {
        let mut doc = Vec::with_capacity(64 * entries.len() + 32);
        let mut objects = HashMap::with_capacity(entries.len());
        doc.extend_from_slice(b"{\"object\":\"list\",\"data\":[");
        for (i, (id, owner)) in entries.iter().enumerate() {
            if i > 0 {
                doc.push(b',');
            }
            let start = doc.len();
            doc.extend_from_slice(b"{\"id\":");
            push_json_string(&mut doc, id);
            doc.extend_from_slice(b",\"object\":\"model\",\"created\":0,\"owned_by\":");
            push_json_string(&mut doc, owner);
            doc.push(b'}');
            objects.insert(id.clone(), start..doc.len());
        }
        doc.extend_from_slice(b"]}");
        Self {
            doc,
            objects,
            complete,
        }
    }

    /// The listed object for `id`.
    pub fn object(&self, id: &str) -> Option<&[u8]> {
        self.objects.get(id).map(|r| &self.doc[r.clone()])
    }

    /// Whether `provider`'s catalogue is known whole.
    pub fn is_complete(&self, provider: &str) -> bool {
        self.complete.iter().any(|p| p == provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_slices_of_the_list() {
        let list = ModelList::new(
            &[
                ("mock/echo".into(), "mock".into()),
                ("smart".into(), "openai/gpt-4o".into()),
            ],
            vec!["mock".into()],
        );
        let doc: serde_json::Value = serde_json::from_slice(&list.doc).unwrap();
        assert_eq!(doc["data"][1]["id"], "smart");
        let one: serde_json::Value =
            serde_json::from_slice(list.object("mock/echo").unwrap()).unwrap();
        assert_eq!(one["owned_by"], "mock");
        assert!(list.object("mock/none").is_none());
        assert!(list.is_complete("mock") && !list.is_complete("openai"));
    }
}
