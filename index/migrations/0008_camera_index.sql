-- Version 8: an index of each picture's camera make and model as the camera
-- filter reads them (lowercase, "make model"), so that listing the pictures
-- of a camera scans the index's short entries, not every picture's row.
CREATE INDEX images_camera
    ON images(lower(coalesce(camera_make, '') || ' ' || coalesce(camera_model, '')));
