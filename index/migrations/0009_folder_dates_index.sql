-- Version 9: the folder index also holds each picture's date taken, so that
-- listing a folder newest first reads the index alone and sorts its entries,
-- not every picture's row.
DROP INDEX images_folder;
CREATE INDEX images_folder_taken ON images(folder, taken_at);
