// tsuzuri viewer-request function (CloudFront Functions, runtime cloudfront-js-2.0).
//
// Source of truth: functions/viewer-request/index.js. template.yaml carries a verbatim
// copy in ViewerRequestFunction.FunctionCode and tests/unit/test_viewer_request.py
// fails when the two differ: edit the .js file, then paste all of it into the template.
//
// Jekyll-style URLs are directories, so the site bucket holds /a/b/index.html:
//   /a/b/        -> rewritten to /a/b/index.html (served, the URL does not change)
//   /a/b         -> 301 to /a/b/ (query string kept); the last segment has no dot
//   /feed.xml    -> unchanged; a dot in the last segment means a file
// This mirrors tsuzuri.domain.permalink.normalize_url_path, which writes an extensionless
// permalink as a directory. The URI arrives percent-encoded and is passed on as is:
// S3 decodes it, so /tags/%E7%94%9F%E6%88%90ai/ finds the UTF-8 key tags/<name>/index.html.
function handler(event) {
    var request = event.request;
    var uri = request.uri;

    if (uri.charAt(uri.length - 1) === '/') {
        request.uri = uri + 'index.html';
        return request;
    }

    var last = uri.substring(uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') !== -1) {
        return request;
    }

    // Collapse leading slashes and backslashes: a Location of "//host/" or "/\host/"
    // would send the browser to another site (open redirect).
    var location = '/' + uri.replace(/^[\/\\]+/, '') + '/';
    var query = querystringOf(request.querystring);
    if (query) {
        location += '?' + query;
    }
    return {
        statusCode: 301,
        statusDescription: 'Moved Permanently',
        headers: {
            location: { value: location },
            'cache-control': { value: 'public, max-age=3600' }
        }
    };
}

// Rebuild the query string from CloudFront's object form. Values are used as
// CloudFront received them (still percent-encoded), so they are not encoded again.
function querystringOf(qs) {
    var parts = [];
    for (var key in qs) {
        var entry = qs[key];
        var values = entry.multiValue ? entry.multiValue : [entry];
        for (var i = 0; i < values.length; i++) {
            var value = values[i].value;
            parts.push(value === '' || value === undefined ? key : key + '=' + value);
        }
    }
    return parts.join('&');
}

// Not run by CloudFront (it defines no `module`); lets Node load this file for tests.
if (typeof module !== 'undefined') { module.exports = { handler: handler }; }
