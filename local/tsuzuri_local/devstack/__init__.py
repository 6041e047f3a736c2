"""``tsuzuri dev``: the whole product on an embedded AWS (moto's server), served locally.

Real protocols all the way: files go into the source bucket over HTTP, moto sends the
bucket's notifications to the render queue exactly as configured in ``template.yaml``,
and the pumps play Lambda's event source mappings, calling the same handlers as
production with the same event shapes, batch sizes, batching window, partial batch
failures, retries and failure destinations.

Kept apart by what changes them: ``stack`` starts and stops the whole; ``runtime`` is
what Lambda's runtime gives a handler; ``pumps`` are the event source mappings;
``mirror`` follows the content folder; ``console`` is what the terminal shows; and
``moto_patches`` are the fixes to moto that make a site of thousands of posts usable.
"""
