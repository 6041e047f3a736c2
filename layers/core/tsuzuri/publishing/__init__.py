"""The render function's core: a batch of source changes in, index items, pages and one
CloudFront invalidation out (and the rebuilds a config or theme change needs)."""
