"""The one process harness: how the demo, the tests, the benchmarks and the failure drills
start, watch, kill and restart the services, Kafka and PostgreSQL, and measure them.

- :mod:`~stack.harness.process`: a service as an OS process (command line, readiness,
  graceful stop, ``kill -9``), free ports;
- :mod:`~stack.harness.detached`: the demo's processes, detached, found by pid file;
- :mod:`~stack.harness.servers`: a Kafka broker and a PostgreSQL server of one's own;
- :mod:`~stack.harness.stack`: the services on fresh databases, several instances each;
- :mod:`~stack.harness.flows`, :mod:`~stack.harness.flow_run`: demandes, the tap that
  follows them on Kafka, the actors who answer;
- :mod:`~stack.harness.kafka_groups`, :mod:`~stack.harness.resources`,
  :mod:`~stack.harness.mail_clock`, :mod:`~stack.harness.measures`: consumer groups, CPU
  and memory, mail arrival times, percentiles.
"""
