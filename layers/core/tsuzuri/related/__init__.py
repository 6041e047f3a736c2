"""The related function's core: exact related-post lists kept current from the table's
stream, and the post pages whose lists changed re-rendered."""
