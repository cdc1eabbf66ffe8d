package compat

import "testing"

// debianPython is Debian's interpreter: python3-confluent-kafka and python3-kafka install
// only for it, whatever python3 comes first on PATH.
const debianPython = "/usr/bin/python3"

// pythonEnv keeps the scripts away from a user's site-packages and out of testdata/'s
// __pycache__.
var pythonEnv = []string{"PYTHONNOUSERSITE=1", "PYTHONDONTWRITEBYTECODE=1"}

// TestConfluentKafkaPython drives confluent-kafka-python 1.7.0 (librdkafka 2.0.2).
func TestConfluentKafkaPython(t *testing.T) {
	lookPath(t, debianPython)
	testScriptClient(t, scriptClient{
		command:     []string{debianPython, "testdata/confluent_client.py"},
		env:         pythonEnv,
		consumeMode: "consume",
		valuePrefix: "confluent-",
		headerSrc:   "confluent-python",
	})
}

// TestKafkaPython drives kafka-python 2.0.2, which probes the broker with ApiVersions v0 and
// Metadata v0/v1.
func TestKafkaPython(t *testing.T) {
	lookPath(t, debianPython)
	testScriptClient(t, scriptClient{
		command:     []string{debianPython, "testdata/kafka_python_client.py"},
		env:         pythonEnv,
		consumeMode: "consume",
		valuePrefix: "kafka-python-",
		headerSrc:   "kafka-python",
	})
}
