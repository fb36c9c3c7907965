// Microphone samples at the audio context's rate → 16 kHz int16, posted in 60 ms messages.
// Each output sample is the mean of the input samples it covers (a box low-pass against aliasing).
class Downsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / 16000;
    this.acc = 0; this.count = 0; this.pos = 0;
    this.out = new Int16Array(960); this.filled = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.acc += channel[i]; this.count++; this.pos++;
      if (this.pos >= this.ratio) {
        this.pos -= this.ratio;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        this.out[this.filled++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        this.acc = 0; this.count = 0;
        if (this.filled === this.out.length) {
          this.port.postMessage(this.out.buffer, [this.out.buffer]);
          this.out = new Int16Array(960); this.filled = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("downsampler", Downsampler);
