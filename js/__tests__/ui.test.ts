import { describe, expect, it } from "vitest";
import { modelStatus } from "../ui";
import type { ModelInfo } from "../types";

/** As the kernel's `sessions.model_info` writes it for the demo model on a CPU. */
const demo: ModelInfo = {
  name: "demo",
  id: "",
  commit: "",
  checkpoint_sha256: "",
  license: "Apache-2.0",
  device: "cpu",
  precision: "bf16",
  performance: "bf16 channels-last: 2.1x fp32 on this CPU (measured); 2 threads (2 CPUs: cpu count)",
  warning: "",
};

describe("modelStatus", () => {
  it("says how the model runs, with its threads, in place of the bare precision", () => {
    const { text } = modelStatus(demo);
    expect(text).toBe(
      "demo · cpu · bf16 channels-last: 2.1x fp32 on this CPU (measured); 2 threads (2 CPUs: cpu count) · Apache-2.0",
    );
  });

  it("falls back to the precision where the backend does not say", () => {
    const remote = { ...demo, device: "remote http://gpu:1527", precision: "fp16", performance: "" };
    expect(modelStatus(remote).text).toBe("demo · remote http://gpu:1527 · fp16 · Apache-2.0");
  });

  it("keeps the provenance for the tooltip", () => {
    const official = { ...demo, name: "nnInteractive_v1.0", id: "nnInteractive_v1.0", commit: "abc123" };
    const { text, title } = modelStatus({ ...official, checkpoint_sha256: "f00d" });
    expect(text).not.toContain("abc123");
    expect(title.split("\n")).toEqual([
      "nnInteractive_v1.0",
      "cpu",
      demo.performance,
      "Apache-2.0",
      "model id nnInteractive_v1.0",
      "snapshot abc123",
      "checkpoint sha256 f00d",
    ]);
  });

  it("shows nothing before the kernel sent model_info", () => {
    expect(modelStatus(undefined)).toEqual({ text: "", title: "" });
  });
});
