/**
 * Coverage-guided fuzz tests (Jazzer's JUnit integration) of every parser that reads outside input. Under a plain
 * {@code mvn test} each runs its committed seeds ({@code src/test/resources/dev/wharf/fuzz/<Class>Inputs/<method>/})
 * as a regression test; the surefire execution {@code fuzz} (server/pom.xml) fuzzes each for a few seconds in its
 * own JVM ({@code JAZZER_FUZZ=1}; Jazzer fuzzes one test per JVM). The property everywhere: no crash, no hang, no
 * exception but the parser's documented error type. Each class holds one fuzz test so that each gets its own JVM.
 */
package dev.wharf.fuzz;
