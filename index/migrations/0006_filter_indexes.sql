-- Version 6: indexes that let the type, faces and text filters list the
-- pictures they keep without reading every picture (catalog_filter_ids),
-- as the folder and date filters do with images_folder and images_taken_at.
CREATE INDEX images_format ON images(format);
CREATE INDEX tags_kind ON tags(kind, image_id);
CREATE INDEX captions_with_text ON captions(image_id) WHERE ocr <> '';
