#!/usr/bin/python3
"""VOC-style mean average precision of detections against a ground-truth JSON.

Ground truth (tools/make_detection_canvases.py): ``{"images": [{"file", "width", "height",
"boxes": [[x1, y1, x2, y2], ...], "labels": [...]}], "labels": ["background", ...]}``.
Detections (what ``mobilenext detect ... --json D.json`` writes): one list per image, in the
ground truth's order, of ``{"box": [x1, y1, x2, y2], "label": L, "score": S, "name": ...}``,
boxes in the image's pixels.

Per class, the detections of all images are sorted by decreasing score (a stable sort, so
ties keep their file order); each is a true positive if its IoU with a not yet matched
ground-truth box of the same class and image is >= --iou (the best-overlapping such box is
taken; VOC's rule: if the best-overlapping box of the class is already matched, the
detection is a false positive), else a false positive. AP is the area under the
precision-recall curve with all-point interpolation (precision made monotonically
decreasing, summed over every recall step), as in VOC2010 and later (not the 11-point
VOC2007 metric). Boxes are continuous coordinates: IoU = intersection / (area_a + area_b -
intersection) with area = (x2 - x1) * (y2 - y1), no "+1". There are no "difficult" boxes.
The mean is over the classes that have ground truth (background excluded).

  detection_map.py /tmp/detector/test/ground_truth.json detections.json [--json map.json]
"""

import argparse
import json
import sys

import numpy as np


def iou_one_to_many(box, boxes):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def average_precision(recall, precision):
    """All-point interpolated AP (VOC2010+)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def voc_map(ground_truth, detections, iou_threshold=0.5):
    """{"mAP", "iou_threshold", "interpolation", "per_class": {name: {"ap", "gt", "detections",
    "true_positives"}}} for ground truth and detections as described in the module's doc."""
    images = ground_truth["images"]
    names = ground_truth.get("labels")
    if len(detections) != len(images):
        raise ValueError("%d detection lists for %d ground-truth images" % (len(detections), len(images)))
    classes = sorted({int(l) for im in images for l in im["labels"]})
    per_class = {}
    for c in classes:
        gt_boxes = [[b for b, l in zip(im["boxes"], im["labels"]) if int(l) == c] for im in images]
        matched = [np.zeros(len(b), bool) for b in gt_boxes]
        n_gt = sum(len(b) for b in gt_boxes)
        cand = [(float(d["score"]), i, d["box"]) for i, dets in enumerate(detections)
                for d in dets if int(d["label"]) == c]
        order = sorted(range(len(cand)), key=lambda k: -cand[k][0])
        tp = np.zeros(len(cand))
        for rank, k in enumerate(order):
            _, i, box = cand[k]
            if not gt_boxes[i]:
                continue
            ious = iou_one_to_many(np.asarray(box, np.float64), gt_boxes[i])
            j = int(np.argmax(ious))
            if ious[j] >= iou_threshold and not matched[i][j]:
                matched[i][j] = True
                tp[rank] = 1.0
        ctp = np.cumsum(tp)
        cfp = np.cumsum(1.0 - tp)
        recall = ctp / max(n_gt, 1)
        precision = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
        name = names[c] if names and c < len(names) else str(c)
        per_class[name] = {"label": c, "ap": average_precision(recall, precision) if n_gt else 0.0,
                           "gt": n_gt, "detections": len(cand), "true_positives": int(ctp[-1]) if len(cand) else 0}
    mean = float(np.mean([v["ap"] for v in per_class.values()])) if per_class else 0.0
    return {"mAP": mean, "iou_threshold": iou_threshold,
            "interpolation": "all-point (VOC2010+)", "per_class": per_class}


def format_report(result):
    lines = ["mAP@%.2f %.4f (%s)" % (result["iou_threshold"], result["mAP"], result["interpolation"])]
    for name, v in result["per_class"].items():
        lines.append("  %-12s AP %.4f  (%d ground truth, %d detections, %d true positives)"
                     % (name, v["ap"], v["gt"], v["detections"], v["true_positives"]))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("ground_truth", help="ground-truth JSON (make_detection_canvases.py)")
    p.add_argument("detections", help="detections JSON, one list per image")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold of a true positive")
    p.add_argument("--json", default=None, help="write the result here")
    args = p.parse_args()
    with open(args.ground_truth, encoding="utf-8") as f:
        gt = json.load(f)
    with open(args.detections, encoding="utf-8") as f:
        dets = json.load(f)
    result = voc_map(gt, dets, args.iou)
    print(format_report(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
