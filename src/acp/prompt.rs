//! An ACP prompt's content blocks as tandem content parts: text and images as they are, resource links and
//! embedded resources as text that names them (with the embedded text itself).

use agent_client_protocol_schema::v1::{ContentBlock, EmbeddedResourceResource};

use crate::vocab::content::ContentPart;

/// The parts of `blocks`; `Err` for an empty prompt or a block tandem cannot pass on (audio).
pub fn parts(blocks: &[ContentBlock]) -> Result<Vec<ContentPart>, String> {
    let mut out = Vec::new();
    for b in blocks {
        let text = |text: String| ContentPart::Text { text };
        out.push(match b {
            ContentBlock::Text(t) => text(t.text.clone()),
            ContentBlock::Image(i) => ContentPart::Image {
                media_type: i.mime_type.clone(),
                data: i.data.clone(),
            },
            ContentBlock::ResourceLink(l) => text(format!("[resource {}: {}]", l.name, l.uri)),
            ContentBlock::Resource(r) => match &r.resource {
                EmbeddedResourceResource::TextResourceContents(t) => text(format!(
                    "<resource uri=\"{}\">\n{}\n</resource>",
                    t.uri, t.text
                )),
                EmbeddedResourceResource::BlobResourceContents(b) => match &b.mime_type {
                    Some(m) if m.starts_with("image/") => ContentPart::Image {
                        media_type: m.clone(),
                        data: b.blob.clone(),
                    },
                    _ => text(format!("[binary resource {} (not shown)]", b.uri)),
                },
                _ => return Err("an embedded resource of an unknown kind".into()),
            },
            ContentBlock::Audio(_) => return Err("audio prompts are not supported".into()),
            _ => return Err("a content block of an unknown kind".into()),
        });
    }
    if out.is_empty() {
        return Err("the prompt is empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_images_and_resources_become_parts() {
        let blocks: Vec<ContentBlock> = serde_json::from_value(json!([
            {"type": "text", "text": "look"},
            {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo="},
            {"type": "resource_link", "name": "a.rs", "uri": "file:///w/a.rs"},
            {"type": "resource", "resource": {"uri": "file:///w/b.rs", "text": "fn b() {}"}}
        ]))
        .unwrap();
        let p = parts(&blocks).unwrap();
        assert_eq!(
            p[0],
            ContentPart::Text {
                text: "look".into()
            }
        );
        assert!(
            matches!(&p[1], ContentPart::Image { media_type, .. } if media_type == "image/png")
        );
        assert_eq!(
            p[2],
            ContentPart::Text {
                text: "[resource a.rs: file:///w/a.rs]".into()
            }
        );
        assert_eq!(
            p[3],
            ContentPart::Text {
                text: "<resource uri=\"file:///w/b.rs\">\nfn b() {}\n</resource>".into()
            }
        );
        assert!(parts(&[]).is_err());
    }
}
