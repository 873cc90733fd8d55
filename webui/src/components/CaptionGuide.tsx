// The caption guide: what each part of the structured caption is for (docs/APP.md §8).
import { useState } from 'react';
import { Modal } from './ConfirmDialog';

export function CaptionGuide() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="btn btn-ghost btn-sm" onClick={() => setOpen(true)} aria-haspopup="dialog">Caption guide</button>
      <Modal open={open} labelledBy="guide-title" onClose={() => setOpen(false)} className="max-w-2xl">
        <h2 id="guide-title" className="mb-2 text-lg font-semibold">Caption guide</h2>
        <div className="max-h-[70vh] space-y-3 overflow-y-auto text-sm" data-testid="caption-guide">
          <p>Ideogram 4 reads a <strong>structured caption</strong>: a JSON object with three parts. The Form fills it for you; the JSON tab shows it.</p>
          <section>
            <h3 className="font-semibold">1. Scene — <code>high_level_description</code></h3>
            <p>One or two sentences: the subject, what happens, where, and the overall composition. Say “adult” for grown-ups when age could be ambiguous.</p>
          </section>
          <section>
            <h3 className="font-semibold">2. Style — <code>style_description</code></h3>
            <p>Choose the <em>medium</em> first. A photograph gets a camera/lens value in <code>photo</code> (e.g. “85mm f/1.4, shallow depth of field”); other media get an <code>art_style</code>. Add aesthetics, lighting and an optional colour palette (upper-case hex like #E4572E).</p>
          </section>
          <section>
            <h3 className="font-semibold">3. Composition — <code>compositional_deconstruction</code></h3>
            <p><strong>Background</strong>: the room, floor, walls, sky, weather. <strong>Elements</strong>: one coherent subject each — a person, an object, a sign, a block of text (type <code>text</code> with the exact words). Don't split body parts, shadows or background surfaces into elements, and keep camera language out of them.</p>
          </section>
          <section>
            <h3 className="font-semibold">4. Boxes — <code>bbox</code> on a 0–1000 scale</h3>
            <p>A box is <code>[top, left, bottom, right]</code> where 0 is the top/left edge of the image and 1000 the bottom/right edge, whatever the image size. <code>[0, 0, 1000, 1000]</code> is the whole frame, <code>[290, 290, 710, 710]</code> a centred square-ish box. A box is a strong lock: use it for exact layouts and text, leave it out to let the model explore. Draw boxes on the layout canvas or type the four numbers.</p>
          </section>
          <section>
            <h3 className="font-semibold">Tips</h3>
            <p>Keep medium, scene and style consistent; try one image before a batch; lock the seed to compare changes.</p>
          </section>
        </div>
        <div className="mt-3 flex justify-end"><button type="button" className="btn" onClick={() => setOpen(false)} data-autofocus>Close</button></div>
      </Modal>
    </>
  );
}
