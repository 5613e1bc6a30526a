package dev.wharf.server.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Normalisation as Docker (and harbor-container-webhook) reads an image reference. */
class ImageNameTest {
    private static final String D = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "nginx                              | docker.io/library/nginx:latest",
        "nginx:1.27                         | docker.io/library/nginx:1.27",
        "user/app                           | docker.io/user/app:latest",
        "user/app:v2                        | docker.io/user/app:v2",
        "docker.io/nginx                    | docker.io/library/nginx:latest",
        "index.docker.io/library/nginx:1    | docker.io/library/nginx:1",
        "quay.io/x/y                        | quay.io/x/y:latest",
        "quay.io/x/y:1.0                    | quay.io/x/y:1.0",
        "localhost/app                      | localhost/app:latest",
        "localhost:5000/a/b/c:dev           | localhost:5000/a/b/c:dev",
        "registry.internal:5000/team/svc    | registry.internal:5000/team/svc:latest",
        "Registry/app                       | Registry/app:latest",
        "nginx@" + D + "                    | docker.io/library/nginx@" + D,
        "docker.io/library/redis:7.4@" + D + " | docker.io/library/redis:7.4@" + D,
        "ghcr.io/a/b:2@" + D + "            | ghcr.io/a/b:2@" + D,
    })
    void normalises(String text, String normalised) {
        assertEquals(normalised, ImageName.parse(text).toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "nginx                  | wharf.example.com/docker.io | wharf.example.com/docker.io/library/nginx:latest | latest",
        "nginx:1.27             | wharf.example.com/docker.io | wharf.example.com/docker.io/library/nginx:1.27   | 1.27",
        "quay.io/x/y@" + D + "  | localhost:5000              | localhost:5000/x/y@" + D + "                     | " + D,
        "redis:7@" + D + "      | w.io/hub                    | w.io/hub/library/redis:7@" + D + "               | " + D,
    })
    void replacesTheRegistry(String text, String replace, String rewritten, String manifestReference) {
        ImageName name = ImageName.parse(text);
        assertEquals(rewritten, name.withRegistry(replace));
        assertEquals(manifestReference, name.manifestReference());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " nginx", "nginx ", "UPPER", "docker.io/Library/nginx", "nginx:", "nginx:-x",
        "nginx@sha256", "nginx@sha256:XYZ", "nginx@notadigest", "quay.io/", "a//b", "nginx:1.0:2"})
    void refusesWhatDoesNotParse(String text) {
        assertThrows(IllegalArgumentException.class, () -> ImageName.parse(text));
    }
}
