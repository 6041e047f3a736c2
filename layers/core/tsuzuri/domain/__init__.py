"""What a post is: source keys, front matter, dates, permalinks and the site config.

Pure: no I/O and no AWS. Everything here is checked against Jekyll 4's behaviour.
"""
