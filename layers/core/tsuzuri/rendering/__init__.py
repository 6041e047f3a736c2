"""Pages out of posts: the Jinja2 theme and its overrides, SEO metadata and the search
index files.

Pure: the publisher hands a model in and gets text back."""
