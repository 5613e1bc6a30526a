package dev.wharf.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ByteRangeTest {
    @ParameterizedTest
    @CsvSource({
            "bytes=0-0, 0, 1",
            "bytes=0-99, 0, 100",
            "bytes=10-, 10, 100",
            "bytes=-10, 90, 100",
            "bytes=-1000, 0, 100",
            "bytes=50-5000, 50, 100",
            "BYTES=1-2, 1, 3",
            "bytes= 5 - 9 , 5, 10",
    })
    void satisfiableRanges(String header, long start, long end) {
        ByteRange r = ByteRange.parse(header, 100);
        assertEquals(start, r.start());
        assertEquals(end, r.end());
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytes=100-", "bytes=100-200", "bytes=5-4", "bytes=-0", "bytes=a-b", "bytes=1",
            "items=0-1", "bytes=--1", "bytes=-", "bytes=99999999999999999999-", "bytes=0x10-"})
    void unsatisfiableOrMalformedRangesAre416(String header) {
        RegistryException e = assertThrows(RegistryException.class, () -> ByteRange.parse(header, 100));
        assertEquals(416, e.status().code());
        assertEquals(ErrorCode.RANGE_INVALID, e.code());
        assertEquals("bytes */100", e.headers().get("Content-Range"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytes=0-1,5-6", "bytes=0-1, 3-"})
    void multipleRangesServeTheWholeBlob(String header) {
        assertNull(ByteRange.parse(header, 100));
    }

    @org.junit.jupiter.api.Test
    void contentRangeNamesInclusiveEnd() {
        assertEquals("bytes 10-19/100", ByteRange.parse("bytes=10-19", 100).contentRange(100));
    }
}
