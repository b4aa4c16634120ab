/**
 * Sequence and picture parameter sets (H.264 §7.3.2.1, §7.3.2.2), restricted to what the canonical streams use:
 * Baseline profile (profile_idc 66; x264's `-profile:v baseline` writes Constrained Baseline, constraint_set1 = 1),
 * progressive frames (frame_mbs_only_flag 1), CAVLC, one slice group, no weighted prediction, no redundant pictures,
 * pic_order_cnt_type 0 or 2. Anything else is refused with a message naming the field.
 */
import type { SyntaxReader } from './reader';
import { PROFILE_BASELINE } from './tables';

/** The largest picture side accepted, in pixels (the decoder adapter has the same bound). */
export const MAX_SIDE = 4096;

export interface Sps {
  readonly profileIdc: number;
  /** constraint_set0…5 flags as the 8-bit field (set0 is the high bit). */
  readonly constraintFlags: number;
  readonly levelIdc: number;
  readonly spsId: number;
  readonly log2MaxFrameNum: number;
  readonly pocType: 0 | 2;
  /** log2_max_pic_order_cnt_lsb (type 0 only, else 0). */
  readonly log2MaxPocLsb: number;
  readonly maxNumRefFrames: number;
  readonly gapsInFrameNumAllowed: boolean;
  readonly widthInMbs: number;
  readonly heightInMbs: number;
  readonly crop: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number };
  /** Display size (after cropping), pixels. */
  readonly width: number;
  readonly height: number;
  readonly vuiPresent: boolean;
}

export interface Pps {
  readonly ppsId: number;
  readonly spsId: number;
  readonly bottomFieldPicOrderPresent: boolean;
  readonly numRefIdxL0DefaultActive: number;
  readonly picInitQp: number;
  readonly chromaQpIndexOffset: number;
  readonly deblockingFilterControlPresent: boolean;
  readonly constrainedIntraPred: boolean;
}

const zeroOnly = (what: string) => ({ valid: (v: number) => v === 0, what });

/** seq_parameter_set_rbsp() of a Baseline stream (the reader starts after the NAL header). */
export function parseSps(r: SyntaxReader): Sps {
  const profileIdc = r.u(8, 'profile_idc', 0, 255, {
    valid: (v) => v === PROFILE_BASELINE,
    what: 'only the Baseline profile (66) is supported',
    prefer: [PROFILE_BASELINE],
  });
  const constraintFlags = r.u(8, 'constraint_set flags', 0, 255, { valid: (v) => (v & 3) === 0, what: 'reserved_zero_2bits must be 0', prefer: [0xc0] });
  const levelIdc = r.u(8, 'level_idc', 0, 255, { prefer: [30] });
  const spsId = r.ue('seq_parameter_set_id', 0, 31);
  const log2MaxFrameNum = r.ue('log2_max_frame_num_minus4', 0, 12) + 4;
  const pocType = r.ue('pic_order_cnt_type', 0, 2, { valid: (v) => v !== 1, what: 'pic_order_cnt_type 1 is not supported', prefer: [2] }) as 0 | 2;
  const log2MaxPocLsb = pocType === 0 ? r.ue('log2_max_pic_order_cnt_lsb_minus4', 0, 12) + 4 : 0;
  const maxNumRefFrames = r.ue('max_num_ref_frames', 0, 16, { prefer: [1] });
  const gapsInFrameNumAllowed = r.flag('gaps_in_frame_num_value_allowed_flag', zeroOnly('gaps in frame_num are not supported'));
  const maxMbs = MAX_SIDE / 16;
  const widthInMbs = r.ue('pic_width_in_mbs_minus1', 0, maxMbs - 1, { what: `at most ${MAX_SIDE} pixels` }) + 1;
  const heightInMbs = r.ue('pic_height_in_map_units_minus1', 0, maxMbs - 1, { what: `at most ${MAX_SIDE} pixels` }) + 1;
  r.flag('frame_mbs_only_flag', { valid: (v) => v === 1, what: 'interlaced coding is not supported', prefer: [1] });
  r.flag('direct_8x8_inference_flag');
  const cropping = r.flag('frame_cropping_flag', { prefer: [0] });
  // 4:2:0 progressive: crop units are 2 × 2 pixels (§7.4.2.1.1).
  const cropW = widthInMbs * 8 - 1;
  const cropH = heightInMbs * 8 - 1;
  const left = cropping ? r.ue('frame_crop_left_offset', 0, cropW) : 0;
  const right = cropping ? r.ue('frame_crop_right_offset', 0, cropW - left) : 0;
  const top = cropping ? r.ue('frame_crop_top_offset', 0, cropH) : 0;
  const bottom = cropping ? r.ue('frame_crop_bottom_offset', 0, cropH - top) : 0;
  const vuiPresent = r.flag('vui_parameters_present_flag', { prefer: [0] });
  if (vuiPresent) parseVui(r, maxNumRefFrames);
  r.trailing();
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    spsId,
    log2MaxFrameNum,
    pocType,
    log2MaxPocLsb,
    maxNumRefFrames,
    gapsInFrameNumAllowed,
    widthInMbs,
    heightInMbs,
    crop: { left, right, top, bottom },
    width: widthInMbs * 16 - 2 * (left + right),
    height: heightInMbs * 16 - 2 * (top + bottom),
    vuiPresent,
  };
}

/** vui_parameters() (Annex E.1.1): read and range-checked, not kept. */
function parseVui(r: SyntaxReader, maxNumRefFrames: number): void {
  if (r.flag('aspect_ratio_info_present_flag')) {
    const idc = r.u(8, 'aspect_ratio_idc');
    if (idc === 255) {
      r.u(16, 'sar_width');
      r.u(16, 'sar_height');
    }
  }
  if (r.flag('overscan_info_present_flag')) r.flag('overscan_appropriate_flag');
  if (r.flag('video_signal_type_present_flag')) {
    r.u(3, 'video_format');
    r.flag('video_full_range_flag');
    if (r.flag('colour_description_present_flag')) {
      r.u(8, 'colour_primaries');
      r.u(8, 'transfer_characteristics');
      r.u(8, 'matrix_coefficients');
    }
  }
  if (r.flag('chroma_loc_info_present_flag')) {
    r.ue('chroma_sample_loc_type_top_field', 0, 5);
    r.ue('chroma_sample_loc_type_bottom_field', 0, 5);
  }
  if (r.flag('timing_info_present_flag')) {
    r.u(32, 'num_units_in_tick', 1, 2 ** 32 - 1);
    r.u(32, 'time_scale', 1, 2 ** 32 - 1);
    r.flag('fixed_frame_rate_flag');
  }
  const nalHrd = r.flag('nal_hrd_parameters_present_flag');
  if (nalHrd) parseHrd(r);
  const vclHrd = r.flag('vcl_hrd_parameters_present_flag');
  if (vclHrd) parseHrd(r);
  if (nalHrd || vclHrd) r.flag('low_delay_hrd_flag');
  r.flag('pic_struct_present_flag');
  if (r.flag('bitstream_restriction_flag')) {
    r.flag('motion_vectors_over_pic_boundaries_flag');
    r.ue('max_bytes_per_pic_denom', 0, 16);
    r.ue('max_bits_per_mb_denom', 0, 16);
    r.ue('log2_max_mv_length_horizontal', 0, 15);
    r.ue('log2_max_mv_length_vertical', 0, 15);
    // §E.2.1: max_num_reorder_frames ≤ max_dec_frame_buffering, max_dec_frame_buffering ≥ max_num_ref_frames.
    const reorder = r.ue('max_num_reorder_frames', 0, 16, { prefer: [0] });
    r.ue('max_dec_frame_buffering', Math.max(reorder, maxNumRefFrames), 16, { prefer: [Math.max(reorder, maxNumRefFrames)] });
  }
}

function parseHrd(r: SyntaxReader): void {
  const count = r.ue('cpb_cnt_minus1', 0, 31) + 1;
  r.u(4, 'bit_rate_scale');
  r.u(4, 'cpb_size_scale');
  for (let i = 0; i < count; i++) {
    r.ue('bit_rate_value_minus1', 0, 2 ** 32 - 2);
    r.ue('cpb_size_value_minus1', 0, 2 ** 32 - 2);
    r.flag('cbr_flag');
  }
  r.u(5, 'initial_cpb_removal_delay_length_minus1');
  r.u(5, 'cpb_removal_delay_length_minus1');
  r.u(5, 'dpb_output_delay_length_minus1');
  r.u(5, 'time_offset_length');
}

/** pic_parameter_set_rbsp() of a Baseline stream; `spsIds`: the sequence parameter sets known; `takenPpsIds`: ids it may not use. */
export function parsePps(r: SyntaxReader, spsIds: readonly number[], takenPpsIds: readonly number[] = []): Pps {
  const ppsId = r.ue('pic_parameter_set_id', 0, 255, { valid: (v) => !takenPpsIds.includes(v), what: 'a picture parameter set with this id exists' });
  const spsId = r.ue('seq_parameter_set_id', 0, 31, { valid: (v) => spsIds.includes(v), what: 'it must name a known sequence parameter set' });
  r.flag('entropy_coding_mode_flag', zeroOnly('CABAC is not Baseline'));
  const bottomFieldPicOrderPresent = r.flag('bottom_field_pic_order_in_frame_present_flag');
  r.ue('num_slice_groups_minus1', 0, 7, zeroOnly('slice groups (FMO) are not supported'));
  const numRefIdxL0DefaultActive = r.ue('num_ref_idx_l0_default_active_minus1', 0, 31) + 1;
  r.ue('num_ref_idx_l1_default_active_minus1', 0, 31);
  r.flag('weighted_pred_flag', zeroOnly('weighted prediction is not Baseline'));
  r.u(2, 'weighted_bipred_idc', 0, 2, zeroOnly('weighted bi-prediction is not Baseline'));
  const picInitQp = 26 + r.se('pic_init_qp_minus26', -26, 25);
  r.se('pic_init_qs_minus26', -26, 25);
  const chromaQpIndexOffset = r.se('chroma_qp_index_offset', -12, 12);
  const deblockingFilterControlPresent = r.flag('deblocking_filter_control_present_flag');
  const constrainedIntraPred = r.flag('constrained_intra_pred_flag');
  r.flag('redundant_pic_cnt_present_flag', zeroOnly('redundant pictures are not supported'));
  // High-profile fields (transform_8x8_mode_flag, scaling matrices) would follow here: refused.
  r.moreData(false);
  r.trailing();
  return {
    ppsId,
    spsId,
    bottomFieldPicOrderPresent,
    numRefIdxL0DefaultActive,
    picInitQp,
    chromaQpIndexOffset,
    deblockingFilterControlPresent,
    constrainedIntraPred,
  };
}
