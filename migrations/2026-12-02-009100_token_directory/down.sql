DROP TABLE token_directory;
