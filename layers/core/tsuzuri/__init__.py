"""tsuzuri: publish Jekyll-style Markdown posts from S3 to CloudFront, one post at a time.

The package is the pure core: it knows nothing about Lambda events. Handlers in
``functions/`` parse events, call into :mod:`tsuzuri.publishing.publisher` and map the result.
"""

__version__ = "0.1.0"
